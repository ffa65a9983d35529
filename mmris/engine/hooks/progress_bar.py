"""A compact one-line progress bar with an ETA for CPU demo runs."""
import time
from typing import Optional

from mmengine.hooks import Hook

from mmris.registry import HOOKS


def format_seconds(seconds: float) -> str:
    """``75`` -> ``'1:15'``, ``3725`` -> ``'1:02:05'``."""
    seconds = int(round(max(seconds, 0)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f'{hours}:{minutes:02d}:{secs:02d}'
    return f'{minutes}:{secs:02d}'


def progress_line(stage: str,
                  done: int,
                  total: int,
                  elapsed: float,
                  width: int = 24) -> str:
    """One bar line: stage, bar, percent, done/total, elapsed and ETA.

    The ETA is the mean time per finished step times the steps left.
    """
    total = max(total, 1)
    fraction = min(done / total, 1.0)
    filled = int(round(width * fraction))
    eta = elapsed / done * (total - done) if done else 0.0
    return (f'{stage} [{"#" * filled}{"." * (width - filled)}] '
            f'{100 * fraction:5.1f}% {done}/{total} '
            f'elapsed {format_seconds(elapsed)} ETA {format_seconds(eta)}')


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Log a progress bar line every ``interval`` iterations.

    Training counts iterations over the whole run (all epochs); validation
    and test count batches of the current loop. mmengine's ``LoggerHook``
    still logs losses and its own ``eta``; this hook adds a line that reads
    at a glance in a terminal.

    Args:
        interval (int): Iterations between two lines (the last iteration
            of a loop always gets one). Defaults to 10.
        width (int): Characters of the bar. Defaults to 24.
    """

    priority = 'VERY_LOW'

    def __init__(self, interval: int = 10, width: int = 24) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self.width = width
        self._start: Optional[float] = None
        self._start_iter = 0
        self._saved = (None, 0)

    def _begin(self, start_iter: int = 0) -> None:
        self._start = time.perf_counter()
        self._start_iter = start_iter

    def _report(self, runner, stage: str, done: int, total: int) -> None:
        if done % self.interval and done != total:
            return
        elapsed = time.perf_counter() - (self._start or time.perf_counter())
        # a resumed run times only the iterations it ran itself
        line = progress_line(stage, done - self._start_iter,
                             total - self._start_iter, elapsed, self.width)
        if self._start_iter:
            line += f' (iter {done}/{total})'
        runner.logger.info(line)

    def before_train(self, runner) -> None:
        self._begin(runner.iter)

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        self._report(runner, 'train', runner.iter + 1, runner.max_iters)

    def before_val(self, runner) -> None:
        self._saved = (self._start, self._start_iter)
        self._begin()

    def after_val_iter(self,
                       runner,
                       batch_idx,
                       data_batch=None,
                       outputs=None) -> None:
        self._report(runner, 'val', batch_idx + 1, len(runner.val_dataloader))

    def after_val(self, runner) -> None:
        self._start, self._start_iter = self._saved

    def before_test(self, runner) -> None:
        self._begin()

    def after_test_iter(self,
                        runner,
                        batch_idx,
                        data_batch=None,
                        outputs=None) -> None:
        self._report(runner, 'test', batch_idx + 1,
                     len(runner.test_dataloader))
