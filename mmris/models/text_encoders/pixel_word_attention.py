"""Pixel-word attention inside the Swin stages (early fusion).

Not part of CARIS, whose sentence meets the pixels only in the decoder.
LAVT (Yang et al., CVPR 2022) showed that fusing the words into the visual
stages, so that later stages compute features of the pixels the sentence is
about, learns faster and better than fusing at the end. This is that idea
in a small form, for the demo: after every Swin stage each pixel gathers the
words it attends to, multiplies that context into its own projected
feature, and adds the result back through a zero-initialised projection,
so an untrained fusion leaves the backbone as it is.
"""
from typing import Optional, Sequence, Tuple

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmris.registry import MODELS


class PixelWordFusion(nn.Module):
    """One stage's fusion: ``x + W_o(gelu(W_v x) * attend(x, words))``.

    Args:
        dims (int): Channels of the stage's tokens.
        text_channels (int): Width of the word features.
        embed_dims (int): Width of the attention and the product.
        num_heads (int): Attention heads.
    """

    def __init__(self, dims: int, text_channels: int, embed_dims: int,
                 num_heads: int) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        self.num_heads = num_heads
        self.norm = nn.LayerNorm(dims)
        self.query = nn.Linear(dims, embed_dims)
        self.key_value = nn.Linear(text_channels, 2 * embed_dims)
        self.visual = nn.Linear(dims, embed_dims)
        self.out = nn.Linear(embed_dims, dims)
        self.zero_init()

    def zero_init(self) -> None:
        """Zero the output projection: the fusion starts as the identity."""
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, words: Tensor, key_mask: Tensor) -> Tensor:
        """Fuse the words into the tokens.

        Args:
            x (Tensor): [B, N, dims] stage tokens.
            words (Tensor): [B, L, text_channels] word features.
            key_mask (Tensor): [B, 1, 1, L] bool, True for real words.

        Returns:
            Tensor: [B, N, dims].
        """
        B, N, _ = x.shape
        h = self.norm(x)
        q = self._heads(self.query(h))
        k, v = (self._heads(t) for t in self.key_value(words).chunk(2, -1))
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)
        context = context.transpose(1, 2).reshape(B, N, -1)
        return x + self.out(F.gelu(self.visual(h)) * context)

    def _heads(self, t: Tensor) -> Tensor:
        B, L, D = t.shape
        return t.view(B, L, self.num_heads, D // self.num_heads).transpose(
            1, 2)


@MODELS.register_module()
class PixelWordAttention(BaseModule):
    """Pixel-word fusion after each Swin stage (LAVT-style early fusion).

    ``CARISPromptEncoder(early_fusion=...)`` hands it to the Swin's forward
    as a per-stage hook: the fused tokens are both the stage's output map
    and the next stage's input.

    Args:
        in_channels (Sequence[int]): Channels of the stages, e.g. C1..C4.
        text_channels (int): Width of the word features.
        embed_dims (int): Width of each fusion's attention. Default 64.
        num_heads (int): Heads of each fusion's attention. Default 2.
        init_cfg (dict, optional): mmengine initialisation config; without
            one the output projections start at zero (identity fusion).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 text_channels: int,
                 embed_dims: int = 64,
                 num_heads: int = 2,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = tuple(in_channels)
        self.stages = nn.ModuleList(
            PixelWordFusion(c, text_channels, embed_dims, num_heads)
            for c in self.in_channels)

    def init_weights(self) -> None:
        if self.init_cfg is None:
            for fusion in self.stages:
                fusion.zero_init()
            self._is_init = True
            return
        super().init_weights()

    def forward(self, stage: int, x: Tensor, words: Tensor,
                attention_mask: Tensor) -> Tensor:
        """Fuse stage ``stage``'s tokens with the sentence.

        Args:
            stage (int): Index of the Swin stage (0-based).
            x (Tensor): [B, H*W, C_stage] tokens after the stage's blocks.
            words (Tensor): [B, L, text_channels] word features.
            attention_mask (Tensor): [B, L], 1 for real tokens.

        Returns:
            Tensor: the fused tokens, same shape as ``x``.
        """
        if stage >= len(self.stages):
            raise ValueError(f'PixelWordAttention was built for '
                             f'{len(self.stages)} stages, got stage {stage}')
        key_mask = attention_mask[:, None, None, :].bool()
        return self.stages[stage](x, words.to(x.dtype), key_mask)
