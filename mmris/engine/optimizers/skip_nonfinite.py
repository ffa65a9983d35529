"""An fp32 optimizer wrapper that skips steps on non-finite losses/grads.

On CUDA, ``AmpOptimWrapper``'s GradScaler already skips a step whose
gradients overflow. Plain ``OptimWrapper`` (fp32, and what ``--amp`` falls
back to on a CPU) steps with NaN/Inf gradients and ruins the weights for
good. :class:`SkipNonFiniteOptimWrapper` is the fp32 counterpart of the
scaler's check: enable it with ``optim_wrapper=dict(
type='SkipNonFiniteOptimWrapper', ...)``.
"""
from typing import List, Optional

import torch
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper

from mmris.registry import OPTIM_WRAPPERS


def _current_iter() -> Optional[int]:
    """The runner's iteration (``RuntimeInfoHook`` keeps it up to date)."""
    hub = MessageHub.get_current_instance()
    return hub.get_info('iter')


def grads_finite(params: List[torch.Tensor]) -> bool:
    """Whether every gradient of ``params`` is finite (one host sync)."""
    checks = [p.grad.isfinite().all() for p in params if p.grad is not None]
    if not checks:
        return True
    return bool(torch.stack(checks).all().item())


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that skips the update when the loss or a gradient
    is NaN/Inf.

    A skipped step leaves parameters and optimizer state unchanged (the
    gradients are zeroed by ``update_params`` as usual), logs a warning
    naming the iteration, and increments :attr:`skipped_steps` (also in
    the message hub's runtime info ``skipped_steps``). The MaskRIS two-pass
    step is covered: both losses go through :meth:`backward`. Under DDP the
    gradients are all-reduced before the check, so every rank decides the
    same.

    Args:
        max_consecutive_skips (int, optional): Raise ``RuntimeError`` after
            this many skipped steps in a row (the run has diverged). None
            never raises. Defaults to 100.
        **kwargs: Arguments of :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, *args, max_consecutive_skips: Optional[int] = 100,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_consecutive_skips = max_consecutive_skips
        self.skipped_steps = 0
        self.consecutive_skips = 0
        self._loss_nonfinite = False

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """Backward as usual; remember a non-finite loss for ``step``."""
        if not bool(torch.isfinite(loss.detach()).all()):
            self._loss_nonfinite = True
        super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        """Step unless the loss or a gradient is non-finite."""
        params = [
            p for group in self.optimizer.param_groups
            for p in group['params']
        ]
        finite = not self._loss_nonfinite and grads_finite(params)
        self._loss_nonfinite = False
        if finite:
            self.consecutive_skips = 0
            super().step(**kwargs)
            return
        self._skip()

    def _skip(self) -> None:
        """Count and report a skipped step (or give up)."""
        self.skipped_steps += 1
        self.consecutive_skips += 1
        MessageHub.get_current_instance().update_info(
            'skipped_steps', self.skipped_steps)
        print_log(
            f'SkipNonFiniteOptimWrapper: non-finite loss or gradient at '
            f'iteration {_current_iter()}; optimizer step skipped '
            f'({self.skipped_steps} skipped so far).',
            logger='current',
            level=30)
        limit = self.max_consecutive_skips
        if limit is not None and self.consecutive_skips >= limit:
            raise RuntimeError(
                f'{self.consecutive_skips} consecutive non-finite steps: '
                'training has diverged (lower the learning rate, check the '
                'data, or raise max_consecutive_skips).')
