"""Multi-scale deformable attention run in fp32.

CARIS wraps mmcv's ``MultiScaleDeformableAttention`` in
``autocast(enabled=False)`` and feeds it fp32 tensors: the sampling
locations are ``ref + offset / (W, H)`` and lose too much precision in
half precision. This subclass keeps mmcv's parameter names
(``sampling_offsets``, ``attention_weights``, ``value_proj``,
``output_proj``) and initialisation, so CARIS weights load unchanged.

Which kernel runs is decided by mmcv itself (``mmcv/ops/
multi_scale_deform_attn.py``, ``forward``): the compiled CUDA kernel when
``IS_CUDA_AVAILABLE and value.is_cuda``, otherwise the pure-PyTorch
``multi_scale_deformable_attn_pytorch`` (``F.grid_sample`` with
``align_corners=False``, zero padding), which also runs on CPU.
"""
import contextlib
from typing import Optional

import torch
from mmcv.ops import MultiScaleDeformableAttention
from torch import Tensor


class FP32MultiScaleDeformableAttention(MultiScaleDeformableAttention):
    """mmcv MSDA, batch-first, always computed in fp32.

    Args:
        embed_dims (int): Token width. Default: 256.
        num_heads (int): Attention heads. Default: 8.
        num_levels (int): Feature levels. Default: 3.
        num_points (int): Sampling points per head and level. Default: 4.
        im2col_step (int): Batch chunk of the CUDA kernel. It only
            affects memory, not the result. Default: 16.
        dropout (float): Dropout on the output, before the residual.
            Default: 0.
    """

    def __init__(self,
                 embed_dims: int = 256,
                 num_heads: int = 8,
                 num_levels: int = 3,
                 num_points: int = 4,
                 im2col_step: int = 16,
                 dropout: float = 0.) -> None:
        super().__init__(
            embed_dims=embed_dims,
            num_heads=num_heads,
            num_levels=num_levels,
            num_points=num_points,
            im2col_step=im2col_step,
            dropout=dropout,
            batch_first=True)

    def _kernel_im2col_step(self, batch: int) -> int:
        """Largest step <= ``im2col_step`` that divides ``batch``.

        mmcv's CUDA kernel asserts ``batch % min(batch, step) == 0``
        (e.g. batch 20 with step 16 fails). The step is only a chunk
        size, so shrinking it keeps the result and avoids the assert.
        """
        step = min(batch, self.im2col_step)
        while batch % step:
            step -= 1
        return step

    def forward(self,
                query: Tensor,
                value: Tensor,
                reference_points: Tensor,
                spatial_shapes: Tensor,
                level_start_index: Tensor,
                query_pos: Optional[Tensor] = None,
                identity: Optional[Tensor] = None,
                key_padding_mask: Optional[Tensor] = None) -> Tensor:
        """Deformable attention over ``value``; returns fp32.

        Args:
            query (Tensor): [B, N, C] queries *without* position.
            value (Tensor): [B, Nv, C], all levels flattened.
            reference_points (Tensor): [B, N, num_levels, 2], (x, y) in
                [0, 1].
            spatial_shapes (Tensor): [num_levels, 2] (h, w), int64.
            level_start_index (Tensor): [num_levels], int64.
            query_pos (Tensor, optional): [B, N, C], added to the query
                inside mmcv (not to the residual).
            identity (Tensor, optional): Residual; defaults to ``query``
                (so the residual excludes ``query_pos``).
            key_padding_mask (Tensor, optional): [B, Nv] bool, True for
                padded values.

        Returns:
            Tensor: ``identity + output_proj(sampled)``, [B, N, C], fp32.
        """

        def fp32(x):
            return None if x is None else x.float()

        step = self._kernel_im2col_step(query.shape[0])
        saved_step, self.im2col_step = self.im2col_step, step
        try:
            # Disable autocast of every device type in use, so a CPU
            # bf16 or CUDA fp16 region cannot recast the linears.
            with contextlib.ExitStack() as stack:
                stack.enter_context(torch.autocast('cpu', enabled=False))
                if torch.cuda.is_available():
                    stack.enter_context(torch.autocast('cuda', enabled=False))
                return super().forward(
                    query=fp32(query),
                    value=fp32(value),
                    identity=fp32(identity),
                    query_pos=fp32(query_pos),
                    key_padding_mask=key_padding_mask,
                    reference_points=fp32(reference_points),
                    spatial_shapes=spatial_shapes,
                    level_start_index=level_start_index)
        finally:
            self.im2col_step = saved_step
