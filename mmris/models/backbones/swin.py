"""Swin Transformer image encoder of CARIS, in the official key layout.

The module and parameter names follow the original Microsoft release
(``patch_embed.proj``, ``layers.N.blocks.M.attn.qkv``, ...), so the
ImageNet-22k file ``swin_base_patch4_window7_224_22k.pth`` and full CARIS
checkpoints (prefix ``backbone.vis_encoder.``) load without renaming.
Differences from the classification Swin, as used by CARIS:

* every stage output gets its own LayerNorm ``norm{i}``, applied *before*
  patch merging, and there is no final ``norm`` nor a classifier head;
* the shift is kept even when a feature map is not larger than the window;
* feature maps are zero-padded bottom/right to a multiple of the window.

:func:`load_swin_checkpoint` reads official, CARIS and mmseg/mmdet-layout
Swin weights (the latter converted back, see :func:`mmseg_to_official`).
"""
import functools
import math
import os.path as osp
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch.nn.init import trunc_normal_

from mmris.models.utils.checkpoint import checkpoint_if
from mmris.registry import MODELS
from mmris.utils.compat import load_local_checkpoint

# Additive attention mask between tokens of different shifted regions.
SHIFT_MASK_VALUE = -100.0


# --------------------------------------------------------------------------
# Small building blocks
# --------------------------------------------------------------------------
class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample."""

    def __init__(self, drop_prob: float = 0.):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0. or not self.training:
            return x
        keep = 1. - self.drop_prob
        shape = (x.shape[0], ) + (1, ) * (x.ndim - 1)
        mask = x.new_empty(shape).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'


class Mlp(nn.Module):
    """Two-layer feed-forward network with GELU (``mlp.fc1``/``mlp.fc2``)."""

    def __init__(self, dims: int, hidden_dims: int, drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Linear(dims, hidden_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dims, dims)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.fc1(x)))
        return self.drop(self.fc2(x))


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """Split [B, H, W, C] into windows [B * nW, ws, ws, C]."""
    B, H, W, C = x.shape
    x = x.view(B, H // window_size, window_size, W // window_size, window_size,
               C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size, window_size, C)


def window_reverse(windows: torch.Tensor, window_size: int, H: int,
                   W: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: back to [B, H, W, C]."""
    C = windows.shape[-1]
    x = windows.view(-1, H // window_size, W // window_size, window_size,
                     window_size, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, C)


def relative_position_index(window_size: int) -> torch.Tensor:
    """Index [ws*ws, ws*ws] into the (2ws-1)^2 relative-position table."""
    coords = torch.stack(
        torch.meshgrid(
            torch.arange(window_size),
            torch.arange(window_size),
            indexing='ij')).flatten(1)  # [2, ws*ws]
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    rel = rel + (window_size - 1)  # shift offsets to start at 0
    return rel[..., 0] * (2 * window_size - 1) + rel[..., 1]


def shifted_window_mask(height: int, width: int, window_size: int,
                        shift_size: int, device: torch.device) -> torch.Tensor:
    """Additive mask [nW, N, N] for shifted windows of a padded map.

    After the cyclic roll, a window may hold tokens from up to four
    originally distant regions; attention between regions gets -100.
    """
    img_mask = torch.zeros((1, height, width, 1), device=device)
    slices = (slice(0, -window_size), slice(-window_size, -shift_size),
              slice(-shift_size, None))
    region = 0
    for h in slices:
        for w in slices:
            img_mask[:, h, w, :] = region
            region += 1
    ids = window_partition(img_mask, window_size).flatten(1)  # [nW, N]
    mask = ids[:, None, :] - ids[:, :, None]
    return mask.masked_fill(mask != 0,
                            SHIFT_MASK_VALUE).masked_fill(mask == 0, 0.)


# --------------------------------------------------------------------------
# Attention, block, stage
# --------------------------------------------------------------------------
class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows with relative-position bias.

    Args:
        dims (int): Channels.
        window_size (int): Side of the square window.
        num_heads (int): Attention heads.
        qkv_bias (bool): Bias in the qkv projection.
        qk_scale (float, optional): Overrides ``head_dim ** -0.5``.
        attn_drop (float): Dropout on the attention weights.
        proj_drop (float): Dropout after the output projection.
        use_sdpa (bool): Use ``F.scaled_dot_product_attention`` with the
            bias (and shift mask) as ``attn_mask``; same maths.
    """

    def __init__(self,
                 dims: int,
                 window_size: int,
                 num_heads: int,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 use_sdpa: bool = False):
        super().__init__()
        self.dims = dims
        self.window_size = window_size
        self.num_heads = num_heads
        self.scale = qk_scale or (dims // num_heads)**-0.5
        self.use_sdpa = use_sdpa
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1)**2, num_heads))
        # Persistent: CARIS checkpoints contain it.
        self.register_buffer('relative_position_index',
                             relative_position_index(window_size))
        self.qkv = nn.Linear(dims, dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dims, dims)
        self.proj_drop = nn.Dropout(proj_drop)
        trunc_normal_(self.relative_position_bias_table, std=.02)

    def relative_bias(self) -> torch.Tensor:
        """Relative-position bias [nH, N, N]."""
        n = self.window_size**2
        bias = self.relative_position_bias_table[
            self.relative_position_index.view(-1)]
        return bias.view(n, n, -1).permute(2, 0, 1).contiguous()

    def forward(self,
                x: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x: [B*nW, N, C]; mask: [nW, N, N] additive or None."""
        B_, N, C = x.shape
        qkv = self.qkv(x).reshape(B_, N, 3, self.num_heads,
                                  C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B_, nH, N, hd]
        bias = self.relative_bias().unsqueeze(0)  # [1, nH, N, N]
        if mask is not None:
            nw = mask.shape[0]
            # [B, nW, nH, N, N]: windows of one image share the bias.
            bias = bias.unsqueeze(0) + mask[None, :, None]
            bias = bias.expand(B_ // nw, -1, -1, -1,
                               -1).reshape(B_, self.num_heads, N, N)
        if self.use_sdpa:
            out = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=bias.to(q.dtype),
                dropout_p=self.attn_drop.p if self.training else 0.,
                scale=self.scale)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1) + bias
            attn = self.attn_drop(attn.softmax(dim=-1))
            out = attn @ v
        out = out.transpose(1, 2).reshape(B_, N, C)
        return self.proj_drop(self.proj(out))


class SwinBlock(nn.Module):
    """Swin block: (shifted) window attention then MLP, pre-norm residual."""

    def __init__(self,
                 dims: int,
                 num_heads: int,
                 window_size: int = 7,
                 shift_size: int = 0,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 drop: float = 0.,
                 attn_drop: float = 0.,
                 drop_path: float = 0.,
                 use_sdpa: bool = False):
        super().__init__()
        assert 0 <= shift_size < window_size
        self.window_size = window_size
        self.shift_size = shift_size
        self.norm1 = nn.LayerNorm(dims)
        self.attn = WindowAttention(dims, window_size, num_heads, qkv_bias,
                                    qk_scale, attn_drop, drop, use_sdpa)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dims)
        self.mlp = Mlp(dims, int(dims * mlp_ratio), drop)

    def _attention(self, x: torch.Tensor, hw: Tuple[int, int],
                   shift_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Window attention on the normalised tokens x [B, H*W, C]."""
        H, W = hw
        B, _, C = x.shape
        ws, shift = self.window_size, self.shift_size
        x = x.view(B, H, W, C)
        # Pad after the norm so padded tokens are exact zeros.
        pad_b, pad_r = (ws - H % ws) % ws, (ws - W % ws) % ws
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        Hp, Wp = H + pad_b, W + pad_r
        if shift > 0:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        windows = window_partition(x, ws).view(-1, ws * ws, C)
        windows = self.attn(windows, shift_mask if shift > 0 else None)
        x = window_reverse(windows.view(-1, ws, ws, C), ws, Hp, Wp)
        if shift > 0:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        return x[:, :H, :W, :].reshape(B, H * W, C)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int],
                shift_mask: Optional[torch.Tensor]) -> torch.Tensor:
        x = x + self.drop_path(self._attention(self.norm1(x), hw, shift_mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """2x2 neighbourhood concat (official order), LN(4C), Linear(4C->2C)."""

    def __init__(self, dims: int):
        super().__init__()
        self.reduction = nn.Linear(4 * dims, 2 * dims, bias=False)
        self.norm = nn.LayerNorm(4 * dims)

    def forward(self, x: torch.Tensor,
                hw: Tuple[int, int]) -> Tuple[torch.Tensor, Tuple[int, int]]:
        H, W = hw
        B, _, C = x.shape
        x = x.view(B, H, W, C)
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))  # odd sizes: pad bottom/right
        # Order matters for checkpoint compatibility (mmseg's Unfold differs).
        x = torch.cat([
            x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2,
                                                                    1::2]
        ], -1)
        out_hw = (x.shape[1], x.shape[2])
        x = self.reduction(self.norm(x.view(B, -1, 4 * C)))
        return x, out_hw


class BasicLayer(nn.Module):
    """One Swin stage: ``depth`` blocks, shifted in every odd block, then an
    optional :class:`PatchMerging`. Returns the pre-merging tokens too."""

    def __init__(self,
                 dims: int,
                 depth: int,
                 num_heads: int,
                 window_size: int,
                 drop_paths: Sequence[float],
                 downsample: bool,
                 with_cp: bool = False,
                 **block_kwargs):
        super().__init__()
        self.window_size = window_size
        self.shift_size = window_size // 2
        self.with_cp = with_cp
        self.blocks = nn.ModuleList([
            SwinBlock(
                dims,
                num_heads,
                window_size,
                shift_size=0 if i % 2 == 0 else self.shift_size,
                drop_path=drop_paths[i],
                **block_kwargs) for i in range(depth)
        ])
        self.downsample = PatchMerging(dims) if downsample else None

    def forward(self,
                x: torch.Tensor,
                hw: Tuple[int, int],
                fuse: Optional[Callable] = None):
        """Return (stage tokens, their hw, next-stage tokens, next hw).

        ``fuse(tokens)``, if given, rewrites the tokens after the blocks and
        before the patch merging (early fusion of the sentence).
        """
        ws = self.window_size
        Hp, Wp = (math.ceil(s / ws) * ws for s in hw)
        # Built per forward (never stored in the state dict); cheap.
        mask = shifted_window_mask(Hp, Wp, ws, self.shift_size,
                                   x.device).to(x.dtype)
        for blk in self.blocks:
            x = checkpoint_if(self.with_cp, blk, x, hw, mask)
        if fuse is not None:
            x = fuse(x)
        if self.downsample is None:
            return x, hw, x, hw
        x_down, down_hw = self.downsample(x, hw)
        return x, hw, x_down, down_hw


class PatchEmbed(nn.Module):
    """Non-overlapping patch conv (input padded bottom/right) then LN.

    With ``conv_stem`` the patch conv becomes two overlapping 3x3 stride-2
    convs (``proj.0``, ``proj.2``, GELU between): the "early convolutions"
    of Xiao et al. (2021), which make a vision transformer trained from
    scratch learn local shape faster. Not in Swin or CARIS, and not
    loadable from their checkpoints; for patch size 4 only.
    """

    def __init__(self,
                 patch_size: int = 4,
                 in_channels: int = 3,
                 embed_dims: int = 128,
                 patch_norm: bool = True,
                 conv_stem: bool = False):
        super().__init__()
        self.patch_size = patch_size
        if conv_stem:
            if patch_size != 4:
                raise ValueError('conv_stem=True needs patch_size=4 (two '
                                 f'stride-2 convs), got {patch_size}')
            hidden = max(embed_dims // 2, 1)
            self.proj = nn.Sequential(
                nn.Conv2d(in_channels, hidden, 3, stride=2, padding=1),
                nn.GELU(),
                nn.Conv2d(hidden, embed_dims, 3, stride=2, padding=1))
        else:
            self.proj = nn.Conv2d(
                in_channels,
                embed_dims,
                kernel_size=patch_size,
                stride=patch_size)
        self.norm = nn.LayerNorm(embed_dims) if patch_norm else None

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """[B, C, H, W] -> tokens [B, h*w, D] and (h, w)."""
        p = self.patch_size
        H, W = x.shape[-2:]
        x = F.pad(x, (0, (p - W % p) % p, 0, (p - H % p) % p))
        x = self.proj(x)
        hw = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return x, hw


# --------------------------------------------------------------------------
# The backbone
# --------------------------------------------------------------------------
@MODELS.register_module()
class CARISSwinTransformer(BaseModule):
    """Swin Transformer image encoder of CARIS (defaults: Swin-B, window 7).

    Args:
        pretrain_img_size (int): Image size of the pretraining; sets the
            grid of the absolute position embedding (``use_abs_pos_embed``).
        patch_size (int): Patch embedding stride and kernel.
        in_channels (int): Input channels.
        embed_dims (int): Channels of stage 1; doubled at each stage.
        depths (Sequence[int]): Blocks per stage.
        num_heads (Sequence[int]): Heads per stage.
        window_size (int | Sequence[int]): Attention window side, one for
            all stages or one per stage. A window as large as a stage's
            map makes that stage's attention global (its shifted blocks
            then attend within the four regions of the roll).
        mlp_ratio (float): MLP hidden / input channels.
        qkv_bias (bool): Bias in the qkv projections.
        qk_scale (float, optional): Overrides ``head_dim ** -0.5``.
        drop_rate (float): Dropout after embeddings, MLPs and projections.
        attn_drop_rate (float): Dropout on attention weights.
        drop_path_rate (float): Stochastic depth of the last block; block k
            of N gets ``drop_path_rate * k / (N - 1)``.
        patch_norm (bool): LayerNorm after the patch embedding.
        use_abs_pos_embed (bool): Add a learned absolute position embedding
            (the original Swin's ``ape``, parameter ``absolute_pos_embed``)
            to the patch tokens, resized bicubically to the input's grid.
            Off in CARIS, whose windows see only relative positions; useful
            for a Swin trained from scratch on location words ("the
            leftmost circle"), as in the demo configs.
        abs_pos_embed_init (str): How that embedding starts: ``'normal'``
            (truncated normal, std 0.02, as the original Swin) or
            ``'sincos'`` (fixed 2D sine-cosine features of the patch's row
            and column, as MAE's, then learned): from scratch, the normal
            start carries almost no position until it is learned.
        conv_stem (bool): Two 3x3 stride-2 convs instead of the 4x4 patch
            conv (see :class:`PatchEmbed`); for a Swin trained from
            scratch, as in the demo configs. Off in Swin and CARIS.
        out_indices (Sequence[int]): Stages whose (normed) maps are returned.
        with_cp (bool): Activation checkpointing per block (saves memory).
        use_sdpa (bool): Use ``F.scaled_dot_product_attention``.
        pretrained (str, optional): Checkpoint loaded by
            :meth:`init_weights` through :func:`load_swin_checkpoint`.
        init_cfg (dict, optional): mmengine initialisation config, applied
            after the default Swin initialisation.
    """

    def __init__(self,
                 pretrain_img_size: int = 224,
                 patch_size: int = 4,
                 in_channels: int = 3,
                 embed_dims: int = 128,
                 depths: Sequence[int] = (2, 2, 18, 2),
                 num_heads: Sequence[int] = (4, 8, 16, 32),
                 window_size: Union[int, Sequence[int]] = 7,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.3,
                 patch_norm: bool = True,
                 use_abs_pos_embed: bool = False,
                 abs_pos_embed_init: str = 'normal',
                 conv_stem: bool = False,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 with_cp: bool = False,
                 use_sdpa: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        assert len(depths) == len(num_heads)
        num_stages = len(depths)
        assert all(0 <= i < num_stages for i in out_indices)
        self.pretrain_img_size = pretrain_img_size
        self.out_indices = tuple(out_indices)
        self.pretrained = pretrained
        self.num_features = [embed_dims * 2**i for i in range(num_stages)]
        window_sizes = per_stage(window_size, num_stages, 'window_size')

        self.patch_embed = PatchEmbed(patch_size, in_channels, embed_dims,
                                      patch_norm, conv_stem)
        if abs_pos_embed_init not in ('normal', 'sincos'):
            raise ValueError("abs_pos_embed_init must be 'normal' or "
                             f"'sincos', got {abs_pos_embed_init!r}")
        if (use_abs_pos_embed and abs_pos_embed_init == 'sincos'
                and embed_dims % 4):
            raise ValueError("abs_pos_embed_init='sincos' needs embed_dims "
                             f'divisible by 4, got {embed_dims}')
        self.abs_pos_embed_init = abs_pos_embed_init
        self.absolute_pos_embed = None
        if use_abs_pos_embed:
            grid = pretrain_img_size // patch_size
            self.absolute_pos_embed = nn.Parameter(
                torch.zeros(1, embed_dims, grid, grid))
        self.pos_drop = nn.Dropout(drop_rate)
        rates = drop_path_schedule(drop_path_rate, sum(depths))
        self.layers = nn.ModuleList()
        for i, depth in enumerate(depths):
            start = sum(depths[:i])
            self.layers.append(
                BasicLayer(
                    self.num_features[i],
                    depth,
                    num_heads[i],
                    window_sizes[i],
                    drop_paths=rates[start:start + depth],
                    downsample=i < num_stages - 1,
                    with_cp=with_cp,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    qk_scale=qk_scale,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    use_sdpa=use_sdpa))
        # Output norms norm0..norm3 (new in CARIS, not in ImageNet weights).
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]))

    def init_weights(self):
        """Swin init (trunc-normal Linears, unit LNs), then ``pretrained``."""
        self.apply(_init_linear_and_norm)
        if self.absolute_pos_embed is not None:
            self._init_abs_pos_embed()
        if self.init_cfg is not None:
            super().init_weights()
        if self.pretrained:
            load_swin_checkpoint(self, self.pretrained)

    def _init_abs_pos_embed(self) -> None:
        embed = self.absolute_pos_embed
        if self.abs_pos_embed_init == 'normal':
            nn.init.trunc_normal_(embed, std=.02)
            return
        with torch.no_grad():
            embed.copy_(sincos_2d(embed.shape[1], *embed.shape[-2:])[None])

    def forward(self,
                x: torch.Tensor,
                stage_fusion: Optional[Callable] = None
                ) -> Tuple[torch.Tensor, ...]:
        """[B, C, H, W] -> tuple of NCHW maps (strides 4..32) for
        ``out_indices``, each after its ``norm{i}``.

        ``stage_fusion(i, tokens)``, if given, rewrites stage ``i``'s
        [B, H*W, C] tokens after its blocks: the result is both the stage's
        output and the next stage's input (see ``PixelWordAttention``).
        """
        x, hw = self.patch_embed(x)
        if self.absolute_pos_embed is not None:
            x = x + self.resized_abs_pos_embed(hw)
        x = self.pos_drop(x)
        outs = []
        for i, layer in enumerate(self.layers):
            fuse = None
            if stage_fusion is not None:
                fuse = functools.partial(stage_fusion, i)
            x_out, out_hw, x, hw = layer(x, hw, fuse)
            if i in self.out_indices:
                x_out = getattr(self, f'norm{i}')(x_out)
                outs.append(tokens_to_nchw(x_out, out_hw))
        return tuple(outs)

    def resized_abs_pos_embed(self, hw: Tuple[int, int]) -> torch.Tensor:
        """The absolute position embedding on an ``hw`` grid, as tokens."""
        embed = self.absolute_pos_embed
        if tuple(embed.shape[-2:]) != tuple(hw):
            embed = F.interpolate(
                embed, size=hw, mode='bicubic', align_corners=False)
        return embed.flatten(2).transpose(1, 2)


def sincos_2d(channels: int, height: int, width: int,
              temperature: float = 10000.) -> torch.Tensor:
    """[channels, height, width] sine-cosine position features: the first
    half encodes the row, the second the column, each as sines then
    cosines of the index at ``channels // 4`` geometric frequencies."""
    if channels % 4:
        raise ValueError(f'sincos_2d needs channels divisible by 4, got '
                         f'{channels}')
    quarter = channels // 4
    freqs = temperature**(-torch.arange(quarter, dtype=torch.float32) /
                          quarter)

    def encode(n: int) -> torch.Tensor:  # [2 * quarter, n]
        angles = freqs[:, None] * torch.arange(n, dtype=torch.float32)
        return torch.cat([angles.sin(), angles.cos()])

    rows = encode(height)[:, :, None].expand(-1, height, width)
    cols = encode(width)[:, None, :].expand(-1, height, width)
    return torch.cat([rows, cols])


def tokens_to_nchw(x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """[B, H*W, C] tokens -> contiguous [B, C, H, W] map."""
    return x.view(x.shape[0], *hw, x.shape[-1]).permute(0, 3, 1,
                                                        2).contiguous()


def per_stage(value: Union[int, Sequence[int]], num_stages: int,
              name: str) -> List[int]:
    """``value`` repeated for every stage, or checked to give one each."""
    if isinstance(value, int):
        return [value] * num_stages
    values = list(value)
    if len(values) != num_stages:
        raise ValueError(f'{name} must be an int or give one value per '
                         f'stage ({num_stages}), got {value}')
    return values


def drop_path_schedule(max_rate: float, num_blocks: int) -> List[float]:
    """Linear stochastic-depth rates: block k gets max_rate * k / (N-1)."""
    if num_blocks == 1:
        return [0.]
    return [max_rate * k / (num_blocks - 1) for k in range(num_blocks)]


def _init_linear_and_norm(m: nn.Module):
    """Official Swin init: trunc_normal(.02) Linear, bias 0; LN (1, 0)."""
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=.02)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)
    elif isinstance(m, nn.LayerNorm):
        nn.init.constant_(m.weight, 1.)
        nn.init.constant_(m.bias, 0)


# --------------------------------------------------------------------------
# Checkpoint loading
# --------------------------------------------------------------------------
# Keys of official / mmseg files that this backbone does not use on purpose:
# the classifier's final norm and head, old attn_mask buffers, SimMIM token.
_IGNORED_KEYS = re.compile(r'^(norm\.|head\.|mask_token$)|attn_mask$')
# Position of the official 2x2 concat slot p in mmseg's Unfold order
# (kh * 2 + kw): official slots are (0,0), (1,0), (0,1), (1,1).
_MERGE_SLOT_PERM = [0, 2, 1, 3]
_MMSEG_RENAMES = (('patch_embed.projection.', 'patch_embed.proj.'),
                  ('attn.w_msa.', 'attn.'), ('ffn.layers.0.0.', 'mlp.fc1.'),
                  ('ffn.layers.1.', 'mlp.fc2.'))


def unfold_to_official(t: torch.Tensor) -> torch.Tensor:
    """Undo mmseg's PatchMerging channel order on the last dim (4C).

    mmseg (Unfold) orders the 4C channels as c * 4 + slot; the official
    concat orders them as slot * C + c with a different slot order.
    """
    lead = t.shape[:-1]
    c = t.shape[-1] // 4
    t = t.reshape(*lead, c, 4).transpose(-1, -2)  # [..., 4 (unfold), C]
    return t[..., _MERGE_SLOT_PERM, :].reshape(*lead, 4 * c)


def official_to_unfold(t: torch.Tensor) -> torch.Tensor:
    """mmseg's ``swin2mmseg`` permutation of PatchMerging weights (4C)."""
    lead = t.shape[:-1]
    c = t.shape[-1] // 4
    t = t.reshape(*lead, 4, c)[..., _MERGE_SLOT_PERM, :]
    return t.transpose(-1, -2).reshape(*lead, 4 * c)


def is_mmseg_layout(state_dict: Dict[str, torch.Tensor]) -> bool:
    """True for mmseg/mmdet Swin keys (``stages.``, ``w_msa``, ...)."""
    markers = ('stages.', 'w_msa', 'ffn.layers', 'patch_embed.projection')
    return any(m in k for k in state_dict for m in markers)


def mmseg_to_official(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Convert mmseg/mmdet Swin weights to the official layout."""
    out = {}
    for key, value in state_dict.items():
        if key.startswith('stages.'):
            key = 'layers.' + key[len('stages.'):]
        for old, new in _MMSEG_RENAMES:
            key = key.replace(old, new)
        if re.match(r'layers\.\d+\.downsample\.(reduction\.weight|norm\.)',
                    key):
            value = unfold_to_official(value)
        out[key] = value
    return out


def _extract_state_dict(ckpt) -> Dict[str, torch.Tensor]:
    """State dict of a Swin-only, CARIS or mmseg checkpoint (prefix-free)."""
    if isinstance(ckpt, dict):
        for field in ('state_dict', 'model'):
            if isinstance(ckpt.get(field), dict):
                ckpt = ckpt[field]
                break
    if not isinstance(ckpt, dict):
        return {}
    sd = {
        (k[7:] if k.startswith('module.') else k): v
        for k, v in ckpt.items() if isinstance(v, torch.Tensor)
    }
    # Full CARIS/MaskRIS models, then mmseg segmentors (``backbone.``).
    for prefix in ('backbone.vis_encoder.', 'backbone.'):
        if any(k.startswith(prefix) for k in sd):
            return {
                k[len(prefix):]: v
                for k, v in sd.items() if k.startswith(prefix)
            }
    return sd


def _resize_bias_table(table: torch.Tensor, target_len: int) -> torch.Tensor:
    """Bicubic resize of a [(2w'-1)^2, nH] table to [target_len, nH]."""
    src, dst = math.isqrt(table.shape[0]), math.isqrt(target_len)
    num_heads = table.shape[1]
    grid = table.permute(1, 0).reshape(1, num_heads, src, src).float()
    grid = F.interpolate(
        grid, size=(dst, dst), mode='bicubic', align_corners=False)
    return grid.reshape(num_heads, target_len).permute(1, 0).to(table.dtype)


def load_swin_checkpoint(model: nn.Module,
                         path: str,
                         logger=None) -> Dict[str, List[str]]:
    """Load Swin weights into ``model`` (a :class:`CARISSwinTransformer`).

    Accepts the official Microsoft file, a full CARIS/MaskRIS checkpoint
    (``backbone.vis_encoder.``) and mmseg/mmdet-layout Swin weights.
    Relative-position bias tables of another window size are resized
    bicubically; a ``relative_position_index`` of another shape is skipped.

    Args:
        model (nn.Module): The backbone to load into.
        path (str): Checkpoint file.
        logger: mmengine logger or name; ``'current'`` when None.

    Returns:
        dict: ``loaded``, ``missing``, ``unexpected``, ``ignored``,
        ``skipped`` (shape mismatch) and ``resized`` key lists.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: fewer than half of the model's tensors match.
    """
    logger = logger or 'current'
    if not osp.isfile(osp.expanduser(path)):
        raise FileNotFoundError(
            f'Swin checkpoint "{path}" does not exist; check `pretrained` '
            'in the backbone config.')
    sd = _extract_state_dict(load_local_checkpoint(path, map_location='cpu'))
    if is_mmseg_layout(sd):
        print_log(
            f'{path}: mmseg/mmdet Swin layout, converted to official.',
            logger=logger)
        sd = mmseg_to_official(sd)
    own = model.state_dict()
    report = dict(
        loaded=[],
        missing=[],
        unexpected=[],
        ignored=[],
        skipped=[],
        resized=[])
    to_load = {}
    for key, value in sd.items():
        if key not in own:
            kind = 'ignored' if _IGNORED_KEYS.search(key) else 'unexpected'
            report[kind].append(key)
            continue
        target = own[key].shape
        if (key.endswith('relative_position_bias_table')
                and value.shape != target and value.ndim == 2
                and value.shape[1] == target[1]):
            value = _resize_bias_table(value, target[0])
            report['resized'].append(key)
        if value.shape != target:
            report['skipped'].append(key)
            continue
        to_load[key] = value
    report['loaded'] = sorted(to_load)
    report['missing'] = [
        k for k in own if k not in to_load and k not in report['skipped']
    ]
    if len(to_load) < len(own) / 2:
        raise ValueError(
            f'"{path}" does not look like a Swin checkpoint for this config: '
            f'only {len(to_load)} of {len(own)} backbone tensors match '
            '(wrong file?).')
    model.load_state_dict(to_load, strict=False)
    _log_report(report, path, logger)
    return report


def _log_report(report: Dict[str, List[str]], path: str, logger) -> None:
    """Log what did not load, by name (output norms are expected missing)."""
    print_log(
        f'Loaded {len(report["loaded"])} Swin tensors from {path}.',
        logger=logger)
    if report['resized']:
        print_log(
            'Resized relative_position_bias_table (bicubic): '
            f'{report["resized"]}',
            logger=logger)
    skipped = report['skipped']
    index_only = all(k.endswith('relative_position_index') for k in skipped)
    if skipped:
        print_log(
            f'Skipped (shape mismatch, model keeps its own): {skipped}',
            logger=logger,
            level=20 if index_only else 30)
    new_norms = [k for k in report['missing'] if re.match(r'norm\d\.', k)]
    other = [k for k in report['missing'] if k not in new_norms]
    if new_norms:
        print_log(
            f'Not in checkpoint, kept at init: {new_norms}', logger=logger)
    if other:
        print_log(f'Missing keys: {other}', logger=logger, level=30)
    if report['unexpected']:
        print_log(
            f'Unexpected keys: {report["unexpected"]}',
            logger=logger,
            level=30)
