"""Tests of ``ConvexUpsample``, the learned upsampling of the logits."""
import pytest
import torch
import torch.nn.functional as F

from mmris.models.layers import ConvexUpsample
from mmris.models.layers.convex_upsample import bilinear_taps
from mmris.registry import MODELS


def test_bilinear_taps_sum_to_one_and_match_offsets():
    taps = bilinear_taps(4)
    assert taps.shape == (4, 3)
    torch.testing.assert_close(taps.sum(1), torch.ones(4, dtype=taps.dtype))
    # Sub-pixel 0 of 4 sits 3/8 of a cell left of the cell centre.
    torch.testing.assert_close(
        taps[0], torch.tensor([0.375, 0.625, 0.0], dtype=taps.dtype))
    torch.testing.assert_close(taps[3], taps[0].flip(0))


@pytest.mark.parametrize('scale', [2, 4])
def test_untrained_upsampler_is_bilinear(scale):
    torch.manual_seed(0)
    up = ConvexUpsample(guide_channels=8, scale=scale)
    logits = torch.randn(2, 2, 5, 7)
    guide = torch.randn(2, 8, 5, 7)
    out = up(logits, guide)
    ref = F.interpolate(
        logits, scale_factor=scale, mode='bilinear', align_corners=False)
    assert out.shape == (2, 2, 5 * scale, 7 * scale)
    # The log-eps bias leaves the weights within about 1e-3 of bilinear.
    torch.testing.assert_close(out, ref, atol=5e-3, rtol=0)


def test_trained_weights_depend_on_the_guide():
    torch.manual_seed(0)
    up = ConvexUpsample(guide_channels=4, scale=4)
    torch.nn.init.normal_(up.weight_pred.weight, std=1.0)
    logits = torch.randn(1, 2, 3, 3)
    a = up(logits, torch.randn(1, 4, 3, 3))
    b = up(logits, torch.randn(1, 4, 3, 3))
    assert not torch.allclose(a, b)
    # Convex: every output lies within its 3x3 neighbourhood's range.
    padded = F.pad(logits, (1, 1, 1, 1), mode='replicate')
    low = -F.max_pool2d(-padded, 3, stride=1)
    high = F.max_pool2d(padded, 3, stride=1)
    low = low.repeat_interleave(4, -1).repeat_interleave(4, -2)
    high = high.repeat_interleave(4, -1).repeat_interleave(4, -2)
    assert (a >= low - 1e-5).all() and (a <= high + 1e-5).all()


def test_gradients_reach_logits_and_weight_predictor():
    up = ConvexUpsample(guide_channels=4, scale=2)
    logits = torch.randn(1, 2, 4, 4, requires_grad=True)
    guide = torch.randn(1, 4, 4, 4)
    (up(logits, guide)[:, 1] * torch.randn(1, 8, 8)).sum().backward()
    assert logits.grad.abs().sum() > 0
    assert up.weight_pred.weight.grad.abs().sum() > 0


def test_keeps_dtype_and_checks_shapes():
    up = ConvexUpsample(guide_channels=4, scale=2)
    out = up(torch.randn(1, 2, 4, 4).bfloat16(), torch.randn(1, 4, 4, 4))
    assert out.dtype == torch.bfloat16
    with pytest.raises(ValueError, match='share h and w'):
        up(torch.randn(1, 2, 4, 4), torch.randn(1, 4, 3, 4))
    with pytest.raises(ValueError, match='scale must be >= 1'):
        ConvexUpsample(guide_channels=4, scale=0)


def test_init_weights_keeps_the_bilinear_start():
    up = MODELS.build(dict(type='ConvexUpsample', guide_channels=4, scale=2))
    bias = up.weight_pred.bias.clone()
    up.init_weights()
    torch.testing.assert_close(up.weight_pred.bias, bias)
    assert up.weight_pred.weight.abs().sum() == 0
