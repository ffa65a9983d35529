"""CARIS context-aware mask decoder as an mmris decode head.

The original calls this module the "pixel decoder"
(``VLMSDeformAttnPixelDecoder``). Submodule names match it, so a CARIS
checkpoint loads after stripping the ``pixel_decoder.`` prefix.

Pipeline (spec section 1.5):

1. C4, C3, C2 (low -> high resolution) are projected to ``channels`` by
   ``input_convs``, given a sine + level positional encoding and
   flattened into one token sequence with per-token reference points.
2. The text features are projected (``lang_in_linear``/``lang_in_norm``)
   and the learnable mask prompts appended.
3. ``num_layers`` SVLA layers update both token sets.
4. The stride-8 level of the visual tokens is merged with C1 by an FPN
   step and turned into mask features.
5. Two queries, background (mean of the prompts) and referent (the
   [CLS] token), are embedded by the shared ``lang_embed`` MLP and
   dotted with the mask features.
6. Optionally (``upsample_cfg``, not in CARIS) the stride-4 logits are
   upsampled to the input resolution by a learned module guided by the
   decoder's features; without it they leave the head at stride 4.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmris.models.utils.checkpoint import checkpoint_if
from mmris.registry import MODELS
from ..layers import SVLALayer


def sine_positional_encoding(height: int,
                             width: int,
                             num_feats: int = 128,
                             temperature: float = 10000.,
                             scale: float = 2 * math.pi,
                             eps: float = 1e-6,
                             offset: float = 0.,
                             device=None) -> Tensor:
    """Normalised 2D sine encoding of an unpadded ``height x width`` map.

    The same encoding as mmdet's ``SinePositionalEncoding(normalize=True)``
    with an all-valid mask: ``y_e = (i + 1 + offset) / (H + eps) * scale``
    (likewise ``x_e``), ``d_k = temperature ** (2 * (k // 2) / num_feats)``,
    sin for even and cos for odd ``k``.

    Returns:
        Tensor: [2 * num_feats, H, W], channels ``[pos_y, pos_x]``.
    """
    y = torch.arange(1, height + 1, dtype=torch.float32, device=device)
    x = torch.arange(1, width + 1, dtype=torch.float32, device=device)
    # The cumulative sum of an all-ones mask ends at H (resp. W).
    y = (y + offset) / (height + eps) * scale
    x = (x + offset) / (width + eps) * scale
    k = torch.arange(num_feats, dtype=torch.float32, device=device)
    dim_t = temperature**(2 * torch.div(k, 2, rounding_mode='floor') /
                          num_feats)
    even = (k % 2 == 0)

    def encode(coord: Tensor) -> Tensor:
        phase = coord[:, None] / dim_t
        return torch.where(even, phase.sin(), phase.cos())  # [n, feats]

    pos_y = encode(y)[:, None, :].expand(height, width, num_feats)
    pos_x = encode(x)[None, :, :].expand(height, width, num_feats)
    return torch.cat([pos_y, pos_x], dim=-1).permute(2, 0, 1)


def reference_points(height: int, width: int, device=None) -> Tensor:
    """Normalised pixel centres ``((x + 0.5) / W, (y + 0.5) / H)``.

    Returns:
        Tensor: [H * W, 2] in (x, y) order, row-major.
    """
    y = (torch.arange(height, dtype=torch.float32, device=device) +
         0.5) / height
    x = (torch.arange(width, dtype=torch.float32, device=device) + 0.5) / width
    grid_y, grid_x = torch.meshgrid(y, x, indexing='ij')
    return torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=-1)


@MODELS.register_module()
class CARISHead(BaseModule):
    """CARIS context-aware mask decoder.

    Args:
        in_channels (Sequence[int]): Channels of C1..C4.
            Default: (128, 256, 512, 1024).
        channels (int): Decoder width. Default: 256.
        text_channels (int): Width of the text features. Default: 768.
        strides (Sequence[int]): Strides of C1..C4; informative only (the
            original stores them but derives everything from the map
            sizes). Default: (4, 8, 16, 32).
        num_layers (int): SVLA layers. Default: 6.
        num_heads (int): Heads of MSDA and MHA blocks. Default: 8.
        num_levels (int): Visual levels fed to the SVLA layers, taken
            from the coarsest end (C4, C3, C2). Default: 3.
        num_points (int): MSDA sampling points. Default: 4.
        im2col_step (int): MSDA CUDA chunk size. Default: 16.
        attn_embed_dims (int): MHA projection width. Default: 1024.
        mlp_ratio (int): FFN expansion. Default: 4.
        dropout (float): Dropout in the SVLA layers. Default: 0.
        num_prompts (int): Learnable mask prompts. Default: 5.
        norm_cfg (dict): Norm of the ConvModules.
            Default: ``dict(type='GN', num_groups=32)``.
        act_cfg (dict): Activation of ``output_convs``.
            Default: ``dict(type='ReLU')``.
        use_sdpa (bool): Fused attention in the MHA blocks (no logit
            clamp, see ``MultiHeadAttention``). Default: False.
        with_cp (bool): Activation checkpointing of each SVLA layer in
            training (part of the memory-saving option): the layers hold
            most of the decoder's activations (MSDA sampling, 4x FFN over
            every token of three levels), recomputed in the backward pass
            instead. Same gradients. Default: False.
        upsample_cfg (dict, optional): Not in CARIS. Config of a module
            called as ``upsampler(logits, guide)`` with the stride-4 logits
            and the ``channels``-wide features after ``output_convs``
            (``guide_channels`` is filled in), e.g.
            ``dict(type='ConvexUpsample', scale=4)``; the head then returns
            logits at the upsampled size. Default: None (stride-4 logits,
            upsampled bilinearly by the segmentor, as CARIS).
        init_cfg (dict, optional): mmengine init config. When None the
            construction-time CARIS initialisation is kept by
            :meth:`init_weights`. Default: None.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (128, 256, 512, 1024),
                 channels: int = 256,
                 text_channels: int = 768,
                 strides: Sequence[int] = (4, 8, 16, 32),
                 num_layers: int = 6,
                 num_heads: int = 8,
                 num_levels: int = 3,
                 num_points: int = 4,
                 im2col_step: int = 16,
                 attn_embed_dims: int = 1024,
                 mlp_ratio: int = 4,
                 dropout: float = 0.,
                 num_prompts: int = 5,
                 norm_cfg: dict = dict(type='GN', num_groups=32),
                 act_cfg: dict = dict(type='ReLU'),
                 use_sdpa: bool = False,
                 with_cp: bool = False,
                 upsample_cfg: Optional[dict] = None,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.with_cp = with_cp
        if len(in_channels) != num_levels + 1:
            raise ValueError('in_channels must list C1 plus the '
                             f'{num_levels} encoder levels, got '
                             f'{in_channels}')
        self.in_channels = tuple(in_channels)
        self.channels = channels
        self.strides = tuple(strides)
        self.num_levels = num_levels
        self.num_prompts = num_prompts
        # Encoder levels, coarse to fine: indices 3, 2, 1 for C4, C3, C2.
        self.level_indices = list(range(len(in_channels) - 1, 0, -1))

        self.input_convs = nn.ModuleList([
            ConvModule(
                self.in_channels[idx],
                channels,
                kernel_size=1,
                bias=True,
                norm_cfg=norm_cfg,
                act_cfg=None) for idx in self.level_indices
        ])
        self.encoder = nn.ModuleList([
            SVLALayer(
                embed_dims=channels,
                attn_embed_dims=attn_embed_dims,
                num_heads=num_heads,
                num_levels=num_levels,
                num_points=num_points,
                im2col_step=im2col_step,
                mlp_ratio=mlp_ratio,
                dropout=dropout,
                use_sdpa=use_sdpa) for _ in range(num_layers)
        ])
        self.level_encoding = nn.Embedding(num_levels, channels)
        self.lang_in_linear = nn.Linear(text_channels, channels)
        self.lang_in_norm = nn.LayerNorm(channels)
        self.vis_prompts = nn.Embedding(num_prompts, channels)
        # FPN step from the stride-8 tokens to C1 (stride 4).
        self.lateral_convs = nn.ModuleList([
            ConvModule(
                self.in_channels[0],
                channels,
                kernel_size=1,
                bias=False,
                norm_cfg=norm_cfg,
                act_cfg=None)
        ])
        self.output_convs = nn.ModuleList([
            ConvModule(
                channels,
                channels,
                kernel_size=3,
                padding=1,
                bias=False,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
        ])
        self.mask_feature = nn.Sequential(
            nn.Conv2d(channels, channels, 1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1))
        self.lang_embed = nn.Sequential(
            nn.Linear(channels, channels), nn.ReLU(inplace=True),
            nn.Linear(channels, channels), nn.ReLU(inplace=True),
            nn.Linear(channels, channels))
        self.upsampler = None
        if upsample_cfg is not None:
            self.upsampler = MODELS.build(
                dict(upsample_cfg, guide_channels=channels))
        # Every submodule initialised itself above exactly as the original
        # does at construction (SVLA: trunc-normal + mmcv MSDA init;
        # ConvModule: kaiming fan_out; the rest PyTorch defaults). The
        # original never runs its decoder-level init_weights.

    def init_weights(self) -> None:
        """Keep the construction-time initialisation.

        Runners call ``init_weights`` on the whole model. Without an
        ``init_cfg`` the default ``BaseModule`` behaviour would re-run
        each child's ``init_weights``, re-drawing (ConvModule, SVLA)
        weights, so it is skipped. With an ``init_cfg`` (e.g.
        ``Pretrained``) mmengine's behaviour applies.
        """
        if self.init_cfg is None:
            self._is_init = True
            return
        super().init_weights()

    def spatial_shapes(self, feats: Sequence[Tensor]) -> List[Tuple[int, int]]:
        """(h, w) of the encoder levels, coarse to fine (C4, C3, C2)."""
        return [tuple(feats[idx].shape[-2:]) for idx in self.level_indices]

    def num_encoder_tokens(self, feats: Sequence[Tensor]) -> int:
        """Number of visual tokens the SVLA layers attend over."""
        return sum(h * w for h, w in self.spatial_shapes(feats))

    def _flatten_levels(
        self, feats: Sequence[Tensor]
    ) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Visual tokens, positions and MSDA geometry.

        Returns:
            tuple: tokens [B, N, C], pos [B, N, C], reference points
            [B, N, num_levels, 2], spatial shapes [num_levels, 2] and
            level start index [num_levels].
        """
        tokens, pos_list, ref_list = [], [], []
        for i, idx in enumerate(self.level_indices):
            x = self.input_convs[i](feats[idx])
            batch, _, height, width = x.shape
            pos = sine_positional_encoding(
                height, width, self.channels // 2, device=x.device)
            pos = pos.flatten(1).t() + self.level_encoding.weight[i]
            tokens.append(x.flatten(2).transpose(1, 2))
            pos_list.append(pos[None].expand(batch, -1, -1))
            ref_list.append(reference_points(height, width, x.device))
        shapes = torch.as_tensor(
            self.spatial_shapes(feats),
            dtype=torch.long,
            device=tokens[0].device)
        start = torch.cat(
            [shapes.new_zeros(1), (shapes[:, 0] * shapes[:, 1]).cumsum(0)])
        # Valid ratios are all 1 (no padding), so each token has the same
        # normalised point on every level.
        ref = torch.cat(ref_list)[None, :,
                                  None, :].expand(tokens[0].shape[0], -1,
                                                  self.num_levels, -1)
        return (torch.cat(tokens, 1), torch.cat(pos_list,
                                                1), ref, shapes, start[:-1])

    def _run_layer(self, layer: nn.Module, *inputs) -> Tuple[Tensor, Tensor]:
        """One SVLA layer, checkpointed with ``with_cp`` when training."""
        return checkpoint_if(self.with_cp, layer, *inputs)

    def forward(self, feats: Sequence[Tensor], text_feats: Tensor,
                attention_mask: Tensor) -> Tensor:
        """Predict background/referent logits at C1's resolution.

        Args:
            feats (Sequence[Tensor]): C1..C4, NCHW.
            text_feats (Tensor): [B, L, text_channels].
            attention_mask (Tensor): [B, L], 1 for real tokens, 0 for
                padding.

        Returns:
            Tensor: [B, 2, H1, W1] (C1's size, or the upsampler's output
            size with ``upsample_cfg``); channel 0 background, 1 referent.
        """
        vis, vis_pos, ref, shapes, start = self._flatten_levels(feats)
        batch = vis.shape[0]
        text = self.lang_in_norm(self.lang_in_linear(text_feats))
        num_text = text.shape[1]
        prompts = self.vis_prompts.weight[None].expand(batch, -1, -1)
        lang = torch.cat([text, prompts.to(text.dtype)], dim=1)
        # The prompts are always valid keys.
        padding_mask = torch.cat([
            attention_mask == 0,
            attention_mask.new_zeros(batch, self.num_prompts, dtype=bool)
        ],
                                 dim=1)

        for layer in self.encoder:
            vis, lang = self._run_layer(layer, vis, lang, vis_pos, ref, shapes,
                                        start, padding_mask)

        # Only the finest encoder level (stride 8) is used from here on.
        height, width = shapes[-1].tolist()
        fine = vis[:, int(start[-1]):].transpose(1, 2).reshape(
            batch, -1, height, width)
        c1 = feats[0]
        fpn = self.lateral_convs[0](c1) + F.interpolate(
            fine, size=c1.shape[-2:], mode='bilinear', align_corners=False)
        guide = self.output_convs[0](fpn)
        mask_feats = self.mask_feature(guide)

        text, prompts = lang[:, :num_text], lang[:, num_text:]
        fg = self.lang_embed(text[:, 0:1])  # the [CLS] token
        bg = self.lang_embed(prompts.mean(dim=1, keepdim=True))
        queries = torch.cat([bg, fg], dim=1)
        logits = torch.einsum('bqc,bchw->bqhw', queries, mask_feats)
        if self.upsampler is not None:
            logits = self.upsampler(logits, guide)
        return logits
