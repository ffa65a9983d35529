"""Sentence-conditioned feature-wise modulation of the visual maps.

Not part of CARIS. In CARIS the sentence reaches the visual features only
inside the decoder; trained from scratch on a CPU budget (the demo), such
a model is slow to tie colour and shape words to pixels. FiLM (Perez et
al., 2018) gives the decoder visual maps that already depend on the
sentence. Zero-initialised, so an untrained FiLM leaves the maps as they
are and a model with it starts as the plain model.
"""
from typing import Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmris.registry import MODELS


def masked_mean(tokens: Tensor, attention_mask: Tensor) -> Tensor:
    """Mean of ``tokens`` [B, L, C] over the positions where the mask is 1."""
    weights = attention_mask[:, :, None].to(tokens.dtype)
    return (tokens * weights).sum(1) / weights.sum(1).clamp(min=1.0)


@MODELS.register_module()
class SentenceFiLM(BaseModule):
    """``f * (1 + gamma_i(s)) + beta_i(s)`` for each visual map ``f``.

    ``s`` is the mean of the text features over the real tokens; ``gamma_i``
    and ``beta_i`` are per-channel and linear in ``s``, one linear per
    level.

    Args:
        in_channels (Sequence[int]): Channels of the visual maps, e.g. the
            Swin's C1..C4.
        text_channels (int): Width of the text features.
        init_cfg (dict, optional): mmengine initialisation config; without
            one the linears start at zero (identity modulation).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 text_channels: int,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = tuple(in_channels)
        self.linears = nn.ModuleList(
            nn.Linear(text_channels, 2 * c) for c in self.in_channels)
        self._zero_init()

    def _zero_init(self) -> None:
        for linear in self.linears:
            nn.init.zeros_(linear.weight)
            nn.init.zeros_(linear.bias)

    def init_weights(self) -> None:
        if self.init_cfg is None:
            self._zero_init()
            self._is_init = True
            return
        super().init_weights()

    def forward(self, feats: Sequence[Tensor], text_feats: Tensor,
                attention_mask: Tensor) -> Tuple[Tensor, ...]:
        """Modulate every map.

        Args:
            feats (Sequence[Tensor]): NCHW maps with ``in_channels``.
            text_feats (Tensor): [B, L, text_channels].
            attention_mask (Tensor): [B, L], 1 for real tokens.

        Returns:
            tuple[Tensor]: The modulated maps, same shapes.
        """
        if len(feats) != len(self.linears):
            raise ValueError(f'SentenceFiLM was built for {len(self.linears)} '
                             f'maps, got {len(feats)}')
        sentence = masked_mean(text_feats, attention_mask)
        out = []
        for feat, linear in zip(feats, self.linears):
            gamma, beta = linear(sentence).to(feat.dtype).chunk(2, dim=1)
            out.append(
                torch.addcmul(beta[:, :, None, None], feat,
                              1 + gamma[:, :, None, None]))
        return tuple(out)
