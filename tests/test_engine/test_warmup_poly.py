import pytest
import torch
from mmengine.optim import OptimWrapper

from mmris.engine.schedulers import WarmupPolyLR


def reference_lr(t, base, warmup=1500, ratio=1e-3, total=132500, power=0.9):
    """Spec caris.md section 4 (the reference's WarmUpPolyLRScheduler)."""
    if t == 0:
        return base
    if t <= warmup:
        return base * (1 - (1 - t / warmup) * (1 - ratio))
    return base * (1 - t / total)**power


def test_follows_the_reference_schedule_per_group():
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    optimizer = torch.optim.AdamW([
        dict(params=[params[0]], lr=1e-5),
        dict(params=[params[1]], lr=1e-4)
    ])
    wrapper = OptimWrapper(optimizer)
    total = 3000
    scheduler = WarmupPolyLR(
        wrapper, warmup_iters=100, warmup_ratio=1e-3, power=0.9, end=total)
    checkpoints = {0, 1, 2, 50, 99, 100, 101, 102, 1500, 2999}
    for t in range(total):
        if t in checkpoints:
            for group, base in zip(optimizer.param_groups, (1e-5, 1e-4)):
                expected = reference_lr(t, base, 100, 1e-3, total)
                assert group['lr'] == pytest.approx(expected, rel=1e-9), t
        wrapper.step()
        scheduler.step()
    # the small dip right after the warm-up: poly counts from iteration 0
    assert reference_lr(101, 1.0, 100, 1e-3, total) < 1.0


def test_epoch_based_config_converts_to_iterations():
    param = torch.nn.Parameter(torch.zeros(1))
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=1.0))
    scheduler = WarmupPolyLR.build_iter_from_epoch(
        wrapper, warmup_iters=10, begin=0, end=5, by_epoch=True,
        epoch_length=20)
    assert scheduler.total_iters == 100 and not scheduler.by_epoch
    with pytest.raises(ValueError, match='finite'):
        WarmupPolyLR(wrapper)
