"""CARIS's learning-rate schedule: linear warm-up then poly, in one piece."""
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from mmris.registry import PARAM_SCHEDULERS


class WarmupPolyParamScheduler(_ParamScheduler):
    """Linear warm-up, then polynomial decay over the *whole* run.

    With ``t`` the number of finished iterations, ``T`` the total number,
    ``W`` the warm-up length and ``v0`` a group's base value:

    * ``t = 0``: ``v0`` (the reference's first iteration runs at the full
      value, a quirk of PyTorch's ``_LRScheduler`` that it inherits);
    * ``1 <= t <= W``: ``v0 * (r + (1 - r) * t / W)``;
    * ``W < t``: ``(v0 - eta_min) * (1 - t / T) ** power + eta_min``.

    The poly part counts from iteration 0, not from the end of the warm-up,
    so the value dips slightly right after the warm-up, as in the reference
    (spec caris.md section 4). Chaining mmengine's ``LinearLR`` and
    ``PolyLR(begin=W)`` would decay from ``W`` instead.

    Args:
        optimizer: Wrapped optimizer.
        param_name (str): The value to schedule (``lr``).
        warmup_iters (int): ``W``.
        warmup_ratio (float): ``r``.
        power (float): Poly exponent.
        eta_min (float): Floor of the decay.
        skip_first_warmup_step (bool): True (default) keeps the reference's
            full value at ``t = 0``; False starts the warm-up at ``r * v0``.
        begin, end, last_step, by_epoch, verbose: as mmengine's
            schedulers; ``T = end - begin``. Use ``by_epoch=True`` with
            ``convert_to_iter_based=True`` to give ``end`` in epochs.
    """

    def __init__(self,
                 optimizer,
                 param_name: str,
                 warmup_iters: int = 1500,
                 warmup_ratio: float = 1e-3,
                 power: float = 0.9,
                 eta_min: float = 0.0,
                 skip_first_warmup_step: bool = True,
                 begin: int = 0,
                 end: int = INF,
                 last_step: int = -1,
                 by_epoch: bool = False,
                 verbose: bool = False) -> None:
        if end == INF:
            raise ValueError('WarmupPolyLR needs a finite `end` (the total '
                             'number of iterations, or epochs with '
                             'convert_to_iter_based=True)')
        if warmup_iters < 0 or not 0 <= warmup_ratio <= 1:
            raise ValueError('warmup_iters must be >= 0 and warmup_ratio in '
                             f'[0, 1]; got {warmup_iters}, {warmup_ratio}')
        self.warmup_iters = warmup_iters
        self.warmup_ratio = warmup_ratio
        self.power = power
        self.eta_min = eta_min
        self.skip_first_warmup_step = skip_first_warmup_step
        self.total_iters = end - begin
        super().__init__(
            optimizer,
            param_name=param_name,
            begin=begin,
            end=end,
            last_step=last_step,
            by_epoch=by_epoch,
            verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls,
                              *args,
                              begin=0,
                              end=INF,
                              by_epoch=True,
                              epoch_length=None,
                              **kwargs):
        """Convert an epoch-based ``begin``/``end`` to iterations."""
        if not by_epoch or not epoch_length:
            raise ValueError('convert_to_iter_based needs by_epoch=True and '
                             'a known epoch length')
        begin = int(begin * epoch_length)
        if end != INF:
            end = int(end * epoch_length)
        return cls(*args, begin=begin, end=end, by_epoch=False, **kwargs)

    def factor(self, step: int, base: float) -> float:
        """The scheduled value after ``step`` finished iterations."""
        if step == 0 and self.skip_first_warmup_step:
            return base
        if step <= self.warmup_iters and self.warmup_iters > 0:
            ratio = self.warmup_ratio
            return base * (ratio + (1 - ratio) * step / self.warmup_iters)
        progress = min(step / self.total_iters, 1.0)
        return (base - self.eta_min) * (1 - progress)**self.power + \
            self.eta_min

    def _get_value(self):
        return [
            self.factor(self.last_step, base) for base in self.base_values
        ]


@PARAM_SCHEDULERS.register_module()
class WarmupPolyLR(LRSchedulerMixin, WarmupPolyParamScheduler):
    """:class:`WarmupPolyParamScheduler` for the learning rate."""
