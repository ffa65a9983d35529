import math

import pytest
import torch
import torch.nn.functional as F

from mmris.models.losses import RISCrossEntropyLoss


def test_matches_hand_computation():
    """Two pixels, no upsampling: L = sum w_y * nll / sum w_y."""
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]]]])  # [1, 2, 1, 2]
    target = torch.tensor([[[0, 1]]])
    nll0 = -math.log(math.exp(2) / (math.exp(2) + 1))  # pixel 0, class 0
    nll1 = -math.log(math.exp(1) / (1 + math.exp(1)))  # pixel 1, class 1
    expected = (0.9 * nll0 + 1.1 * nll1) / (0.9 + 1.1)
    loss = RISCrossEntropyLoss()(logits, target)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_upsamples_with_align_corners_true():
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 4, 4)
    target = torch.randint(0, 2, (2, 16, 16))
    up = F.interpolate(logits, (16, 16), mode='bilinear', align_corners=True)
    expected = F.cross_entropy(up, target, weight=torch.tensor([0.9, 1.1]))
    assert RISCrossEntropyLoss()(logits, target).item() == pytest.approx(
        expected.item(), rel=1e-6)
    # a 4-D [B,1,H,W] target is accepted too
    assert RISCrossEntropyLoss()(logits, target[:, None]).item() == \
        pytest.approx(expected.item(), rel=1e-6)


def test_fp16_logits_are_computed_in_fp32_and_names_checked():
    logits = torch.randn(1, 2, 4, 4).half()
    target = torch.randint(0, 2, (1, 4, 4))
    assert RISCrossEntropyLoss()(logits, target).dtype == torch.float32
    with pytest.raises(ValueError, match='loss_'):
        RISCrossEntropyLoss(loss_name='ce')
    with pytest.raises(ValueError, match='channels'):
        RISCrossEntropyLoss()(torch.randn(1, 3, 4, 4), target)
