"""Tests of the fp32 multi-scale deformable attention wrapper.

The reference below is an independent, explicit bilinear sampler (four
corner gathers with zero padding, pixel centres at +0.5), not mmcv's
``grid_sample`` path, so agreement checks the wrapper's semantics.
"""
import pytest
import torch

from mmris.models.layers import FP32MultiScaleDeformableAttention

SHAPES = [(2, 3), (4, 5), (3, 3)]  # (h, w) per level


def _geometry(batch, device='cpu'):
    shapes = torch.tensor(SHAPES, dtype=torch.long, device=device)
    areas = shapes[:, 0] * shapes[:, 1]
    start = torch.cat([areas.new_zeros(1), areas.cumsum(0)[:-1]])
    num = int(areas.sum())
    ref = torch.rand(batch, num, 1, 2, device=device).expand(-1, -1, 3, -1)
    return shapes, start, num, ref


def _randomised_msda(seed=0):
    torch.manual_seed(seed)
    msda = FP32MultiScaleDeformableAttention(
        embed_dims=16, num_heads=2, num_levels=3, num_points=2)
    with torch.no_grad():
        # Large random offsets so that many points fall between pixels
        # and some outside the map (zero padding).
        for p in msda.parameters():
            p.normal_(std=0.5)
    return msda.eval()


def naive_msda(msda, query, value, ref, shapes, query_pos):
    """Explicit bilinear deformable attention (reference)."""
    batch, num_q, channels = query.shape
    heads, levels, points = msda.num_heads, msda.num_levels, msda.num_points
    dims = channels // heads
    q = query + query_pos
    v = msda.value_proj(value).view(batch, -1, heads, dims)
    offsets = msda.sampling_offsets(q).view(batch, num_q, heads, levels,
                                            points, 2)
    weights = msda.attention_weights(q).view(batch, num_q, heads, -1)
    weights = weights.softmax(-1).view(batch, num_q, heads, levels, points)
    out = torch.zeros(batch, num_q, heads, dims)
    b_idx = torch.arange(batch)[:, None, None, None]
    h_idx = torch.arange(heads)[None, None, :, None]
    start = 0
    for lvl, (height, width) in enumerate(shapes.tolist()):
        v_lvl = v[:, start:start + height * width]
        start += height * width
        loc = ref[:, :, None, lvl, None, :] + offsets[:, :, :, lvl] / \
            torch.tensor([width, height], dtype=torch.float32)
        # Normalised -> pixel coordinates with pixel centres at +0.5.
        px = loc[..., 0] * width - 0.5
        py = loc[..., 1] * height - 0.5
        x0, y0 = px.floor(), py.floor()
        for xi in (x0, x0 + 1):
            for yi in (y0, y0 + 1):
                corner_w = (1 - (px - xi).abs()) * (1 - (py - yi).abs())
                inside = ((xi >= 0) & (xi < width) & (yi >= 0) & (yi < height))
                flat = (yi.clamp(0, height - 1) * width +
                        xi.clamp(0, width - 1)).long()
                sampled = v_lvl[b_idx, flat, h_idx]  # [B, N, h, P, d]
                w = weights[:, :, :, lvl] * corner_w * inside
                out += (w[..., None] * sampled).sum(3)
    return query + msda.output_proj(out.reshape(batch, num_q, channels))


def _inputs(batch=2):
    shapes, start, num, ref = _geometry(batch)
    query = torch.randn(batch, num, 16)
    pos = torch.randn(batch, num, 16)
    return query, pos, ref, shapes, start


def test_default_parameter_count():
    msda = FP32MultiScaleDeformableAttention()
    assert sum(p.numel() for p in msda.parameters()) == 205_600
    assert msda.batch_first and msda.im2col_step == 16


def test_matches_naive_bilinear_reference():
    msda = _randomised_msda()
    query, pos, ref, shapes, start = _inputs()
    with torch.no_grad():
        out = msda(query, query, ref, shapes, start, query_pos=pos)
        expected = naive_msda(msda, query, query, ref, shapes, pos)
    assert out.shape == query.shape
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_fp32_under_cpu_autocast():
    msda = _randomised_msda()
    query, pos, ref, shapes, start = _inputs()
    query, pos = query.bfloat16(), pos.bfloat16()
    with torch.no_grad():
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = msda(query, query, ref, shapes, start, query_pos=pos)
            # Sanity: autocast is really active for a plain Linear.
            assert msda.value_proj(query.float()).dtype == torch.bfloat16
        expected = msda(
            query.float(),
            query.float(),
            ref,
            shapes,
            start,
            query_pos=pos.float())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected)


def test_kernel_im2col_step_divides_batch():
    msda = FP32MultiScaleDeformableAttention(im2col_step=16)
    assert msda._kernel_im2col_step(8) == 8
    assert msda._kernel_im2col_step(32) == 16
    assert msda._kernel_im2col_step(20) == 10
    assert msda._kernel_im2col_step(17) == 1


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs mmcv CUDA kernel')
def test_cuda_kernel_matches_pytorch_path():
    from mmcv.ops.multi_scale_deform_attn import (
        MultiScaleDeformableAttnFunction, multi_scale_deformable_attn_pytorch)
    torch.manual_seed(0)
    batch, heads, dims, points = 2, 2, 8, 2
    shapes, start, num, _ = _geometry(batch, 'cuda')
    value = torch.randn(batch, num, heads, dims, device='cuda')
    loc = torch.rand(batch, num, heads, 3, points, 2, device='cuda') * 1.2 \
        - 0.1
    weights = torch.rand(batch, num, heads, 3, points, device='cuda')
    weights = weights / weights.sum((-1, -2), keepdim=True)
    kernel = MultiScaleDeformableAttnFunction.apply(value, shapes, start, loc,
                                                    weights, 16)
    reference = multi_scale_deformable_attn_pytorch(value, shapes, loc,
                                                    weights)
    torch.testing.assert_close(kernel, reference, atol=1e-5, rtol=1e-5)
    # The wrapper on CUDA (kernel) equals the wrapper on CPU (fallback).
    msda = _randomised_msda()
    query, pos, ref, shapes_cpu, start_cpu = _inputs()
    with torch.no_grad():
        cpu_out = msda(query, query, ref, shapes_cpu, start_cpu, query_pos=pos)
        msda.cuda()
        cuda_out = msda(
            query.cuda(),
            query.cuda(),
            ref.cuda(),
            shapes_cpu.cuda(),
            start_cpu.cuda(),
            query_pos=pos.cuda())
    torch.testing.assert_close(cuda_out.cpu(), cpu_out, atol=1e-5, rtol=1e-5)
