"""Image-conditioned text prompts of CARIS.

The prompts are the only vision-to-language path inside the CARIS
encoders: the last visual map is average-pooled on a pyramid of grids,
each grid cell becomes one token through a per-level MLP, a learned
embedding is added and the result is layer-normalised. The tokens are
then appended to BERT's input (see ``BertTextEncoder``).
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init, trunc_normal_init
from torch import Tensor, nn

from mmris.registry import MODELS


@MODELS.register_module()
class ConditionalPrompt(BaseModule):
    """Turn the last visual feature map into ``sum(l*l)`` prompt tokens.

    Args:
        in_channels (int): channels of the visual map (1024 for Swin-B).
        embed_dims (int): width of the prompts (BERT hidden size, 768).
        prompt_levels (Sequence[int]): pooling grid sizes; level ``l``
            yields ``l*l`` tokens in row-major order. ``(1, 2)`` gives 5.
        init_cfg (dict, optional): mmengine initialisation config; when
            given it replaces the CARIS initialisation of the linears/LN.
    """

    def __init__(self,
                 in_channels: int = 1024,
                 embed_dims: int = 768,
                 prompt_levels: Sequence[int] = (1, 2),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.embed_dims = embed_dims
        self.prompt_levels = tuple(int(level) for level in prompt_levels)
        if not self.prompt_levels or min(self.prompt_levels) < 1:
            raise ValueError('prompt_levels must be positive grid sizes, got '
                             f'{prompt_levels!r}.')
        self.num_prompts = sum(level * level for level in self.prompt_levels)
        self.in_linears = nn.ModuleList(
            nn.Linear(in_channels, embed_dims) for _ in self.prompt_levels)
        self.out_linears = nn.ModuleList(
            nn.Linear(embed_dims, embed_dims) for _ in self.prompt_levels)
        # nn.Embedding's default N(0, 1) init is what CARIS uses.
        self.lang_prompts = nn.Embedding(self.num_prompts, embed_dims)
        self.lang_prompts_norm = nn.LayerNorm(embed_dims, eps=1e-5)

    def init_weights(self):
        """CARIS init: linears trunc_normal(std=0.02)/bias 0, LN (1, 0).

        ``lang_prompts`` is deliberately left at its N(0, 1) construction
        init. A user ``init_cfg`` (e.g. ``Pretrained``) takes over instead.
        """
        if not self.is_init and self.init_cfg is None:
            for linear in (*self.in_linears, *self.out_linears):
                # mmengine truncates at +-2 absolute, like timm in CARIS.
                trunc_normal_init(linear, std=0.02, bias=0.)
            constant_init(self.lang_prompts_norm, val=1., bias=0.)
        super().init_weights()

    def _level_tokens(self, feat: Tensor, index: int) -> Tensor:
        """Pool ``feat`` to an l x l grid and map each cell to a token.

        Returns:
            Tensor: [B, l*l, embed_dims], cells in row-major order.
        """
        level = self.prompt_levels[index]
        # Adaptive pooling: the bins overlap when the size is not a multiple
        # of ``level`` (e.g. 15x15 at 480 input), as in CARIS.
        pooled = F.adaptive_avg_pool2d(feat, level)
        cells = pooled.flatten(2).transpose(1, 2)
        hidden = F.relu(self.in_linears[index](cells))
        return self.out_linears[index](hidden)

    def forward(self, feat: Tensor) -> Tensor:
        """Compute the prompts.

        Args:
            feat (Tensor): [B, in_channels, h, w] last visual map (C4).

        Returns:
            Tensor: [B, num_prompts, embed_dims].
        """
        if feat.dim() != 4 or feat.shape[1] != self.in_channels:
            raise ValueError(
                f'ConditionalPrompt expects [B, {self.in_channels}, h, w], '
                f'got {tuple(feat.shape)}.')
        tokens = [
            self._level_tokens(feat, index)
            for index in range(len(self.prompt_levels))
        ]
        vis_prompts = torch.cat(tokens, dim=1)
        return self.lang_prompts_norm(vis_prompts +
                                      self.lang_prompts.weight[None])
