"""SkipNonFiniteOptimWrapper: a NaN loss skips one step, training goes on."""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch import nn

from mmris.engine.optimizers import SkipNonFiniteOptimWrapper


def _wrapper(**kwargs):
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return model, SkipNonFiniteOptimWrapper(optimizer=optimizer, **kwargs)


def test_nan_loss_skips_the_step():
    model, wrapper = _wrapper()
    before = model.weight.detach().clone()
    wrapper.update_params(model(torch.ones(2, 3)).sum() * float('nan'))
    assert torch.equal(model.weight, before)
    assert wrapper.skipped_steps == 1
    wrapper.update_params(model(torch.ones(2, 3)).sum())
    assert not torch.equal(model.weight, before)
    assert wrapper.consecutive_skips == 0


def test_inf_gradient_with_finite_loss_is_skipped():
    model, wrapper = _wrapper()
    before = model.weight.detach().clone()
    loss = model(torch.ones(1, 3)).sum()
    wrapper.backward(loss)
    model.weight.grad[0, 0] = float('inf')
    wrapper.step()
    assert torch.equal(model.weight, before) and wrapper.skipped_steps == 1


def test_too_many_consecutive_skips_stop_the_run():
    model, wrapper = _wrapper(max_consecutive_skips=3)
    for _ in range(2):
        wrapper.update_params(model(torch.ones(1, 3)).sum() * float('nan'))
    with pytest.raises(RuntimeError, match='3 consecutive non-finite'):
        wrapper.update_params(model(torch.ones(1, 3)).sum() * float('nan'))


class _Snapshots(Hook):
    """Parameters before and after the iteration ``index``."""

    def __init__(self, index):
        self.index, self.before, self.after = index, None, None

    def _copy(self, runner):
        return [p.detach().clone() for p in runner.model.parameters()]

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.index:
            self.before = self._copy(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter == self.index:  # the counter moves after the hooks
            self.after = self._copy(runner)


def test_nan_loss_in_maskris_training_is_skipped(sample_data_root, tmp_path,
                                                 maskris_iter_cfg,
                                                 no_deterministic_leak):
    cfg = maskris_iter_cfg(sample_data_root, tmp_path, max_iters=5)
    cfg.optim_wrapper.type = 'SkipNonFiniteOptimWrapper'
    runner = Runner.from_cfg(cfg)
    model = runner.model
    clean_loss = model.gt_loss

    def gt_loss(logits, data_samples):  # both MaskRIS passes go through it
        loss = clean_loss(logits, data_samples)
        return loss * float('nan') if runner.iter == 2 else loss

    model.gt_loss = gt_loss
    snapshots = _Snapshots(2)
    runner.register_hook(snapshots)
    runner.train()
    assert runner.iter == 5
    assert runner.optim_wrapper.skipped_steps == 1
    assert all(torch.equal(a, b)
               for a, b in zip(snapshots.before, snapshots.after))
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert runner.message_hub.get_info('skipped_steps') == 1
