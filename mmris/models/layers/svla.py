"""Sequential Vision-Language Attention (SVLA) layer of CARIS.

One layer of the context-aware mask decoder (``VLMSDeformAttnLayer`` in
the original). It updates two token sets:

* ``vis``: the multi-scale visual tokens, [B, Nv, C];
* ``lang``: the language tokens followed by the mask prompts, [B, Nl, C].

Data flow (post-norm; the attention names follow the original code, not
the paper figure, see spec section 1.5 (c))::

    lang = l_norm1(lang + gamma_v2l * v2l_cross_attn(lang, vis + pos, vis))
    lang = l_norm2(lang + lang_self_attn(lang, lang, lang, mask))
    lang = l_norm3(lang + lang_mlp(lang))
    vis = v_norm2(vis + gamma_l2v * l2v_cross_attn(vis + pos, lang, lang,
                                                   mask))
    vis = v_norm1(vis_self_attn(vis, pos))   # MSDA adds the residual
    vis = v_norm3(vis + vis_mlp(vis))
"""
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .attention import MultiHeadAttention
from .msda import FP32MultiScaleDeformableAttention


class FeedForward(nn.Module):
    """Two-layer MLP ``fc2(dropout(relu(fc1(x))))``, no residual.

    Args:
        embed_dims (int): Input and output width.
        hidden_dims (int): Hidden width.
        dropout (float): Dropout after the activation. Default: 0.
    """

    def __init__(self,
                 embed_dims: int,
                 hidden_dims: int,
                 dropout: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.act = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden_dims, embed_dims)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.dropout(self.act(self.fc1(x))))


class SVLALayer(nn.Module):
    """One SVLA layer: language/visual cross-attention, self-attention
    and FFNs for both modalities.

    Args:
        embed_dims (int): Token width. Default: 256.
        attn_embed_dims (int): Projection width of the three
            ``MultiHeadAttention`` blocks. Default: 1024.
        num_heads (int): Heads of every attention block. Default: 8.
        num_levels (int): Visual levels of the MSDA. Default: 3.
        num_points (int): MSDA sampling points. Default: 4.
        im2col_step (int): MSDA CUDA chunk size. Default: 16.
        mlp_ratio (int): FFN hidden width / ``embed_dims``. Default: 4.
        dropout (float): Dropout everywhere. Default: 0.
        use_sdpa (bool): Fused attention in the MHA blocks. Default: False.
    """

    def __init__(self,
                 embed_dims: int = 256,
                 attn_embed_dims: int = 1024,
                 num_heads: int = 8,
                 num_levels: int = 3,
                 num_points: int = 4,
                 im2col_step: int = 16,
                 mlp_ratio: int = 4,
                 dropout: float = 0.,
                 use_sdpa: bool = False) -> None:
        super().__init__()

        def mha():
            return MultiHeadAttention(
                embed_dims,
                embed_dims,
                embed_dims=attn_embed_dims,
                num_heads=num_heads,
                dropout=dropout,
                use_sdpa=use_sdpa)

        self.vis_self_attn = FP32MultiScaleDeformableAttention(
            embed_dims=embed_dims,
            num_heads=num_heads,
            num_levels=num_levels,
            num_points=num_points,
            im2col_step=im2col_step,
            dropout=dropout)
        self.v2l_cross_attn = mha()
        self.l2v_cross_attn = mha()
        self.lang_self_attn = mha()
        self.vis_mlp = FeedForward(embed_dims, embed_dims * mlp_ratio, dropout)
        self.lang_mlp = FeedForward(embed_dims, embed_dims * mlp_ratio,
                                    dropout)
        self.v_norm1 = nn.LayerNorm(embed_dims)
        self.v_norm2 = nn.LayerNorm(embed_dims)
        self.v_norm3 = nn.LayerNorm(embed_dims)
        self.l_norm1 = nn.LayerNorm(embed_dims)
        self.l_norm2 = nn.LayerNorm(embed_dims)
        self.l_norm3 = nn.LayerNorm(embed_dims)
        self.dropout = nn.Dropout(dropout)
        # Learnable per-channel scales of the two cross-attention branches.
        self.gamma_v2l = nn.Parameter(torch.ones(1, 1, embed_dims))
        self.gamma_l2v = nn.Parameter(torch.ones(1, 1, embed_dims))
        self.init_weights()

    def init_weights(self) -> None:
        """The initialisation the original executes (spec 3.3).

        Every Linear (the MSDA's included) gets trunc_normal(std=0.02)
        with bias 0 and every LayerNorm (1, 0); the MSDA is then
        re-initialised by mmcv (offset grid, zero attention weights,
        xavier projections) and the gammas are reset to 1.
        """
        for m in self.modules():
            if isinstance(m, nn.Linear):
                # Truncation at +-2 absolute, as timm's trunc_normal_.
                nn.init.trunc_normal_(m.weight, std=.02, a=-2., b=2.)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        self.vis_self_attn.init_weights()
        nn.init.ones_(self.gamma_v2l)
        nn.init.ones_(self.gamma_l2v)

    def forward(
        self,
        vis: Tensor,
        lang: Tensor,
        vis_pos: Tensor,
        reference_points: Tensor,
        spatial_shapes: Tensor,
        level_start_index: Tensor,
        lang_padding_mask: Optional[Tensor] = None,
    ) -> Tuple[Tensor, Tensor]:
        """Run one layer.

        Args:
            vis (Tensor): Visual tokens [B, Nv, C].
            lang (Tensor): Language tokens and mask prompts [B, Nl, C].
            vis_pos (Tensor): Positional encoding of ``vis``, [B, Nv, C].
            reference_points (Tensor): [B, Nv, num_levels, 2].
            spatial_shapes (Tensor): [num_levels, 2] (h, w).
            level_start_index (Tensor): [num_levels].
            lang_padding_mask (Tensor, optional): [B, Nl] bool, True for
                padded language tokens. Used as key mask of the language
                self-attention and of the l2v attention; the v2l
                attention (visual keys) is unmasked.

        Returns:
            tuple[Tensor, Tensor]: Updated ``(vis, lang)``.
        """
        # 1. language queries over all visual tokens.
        attn = self.v2l_cross_attn(lang, vis + vis_pos, vis)
        lang = self.l_norm1(lang + self.dropout(self.gamma_v2l * attn))
        # 2-3. language self-attention and FFN.
        attn = self.lang_self_attn(lang, lang, lang, lang_padding_mask)
        lang = self.l_norm2(lang + self.dropout(attn))
        lang = self.l_norm3(lang + self.dropout(self.lang_mlp(lang)))
        # 4. visual queries over the language tokens.
        attn = self.l2v_cross_attn(vis + vis_pos, lang, lang,
                                   lang_padding_mask)
        vis = self.v_norm2(vis + self.dropout(self.gamma_l2v * attn))
        # 5. deformable self-attention in fp32; mmcv adds the residual
        # (vis without position) itself.
        vis = self.v_norm1(
            self.vis_self_attn(
                query=vis,
                value=vis,
                reference_points=reference_points,
                spatial_shapes=spatial_shapes,
                level_start_index=level_start_index,
                query_pos=vis_pos))
        # 6. visual FFN.
        vis = self.v_norm3(vis + self.dropout(self.vis_mlp(vis)))
        return vis, lang
