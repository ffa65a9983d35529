"""Train loops whose ``--resume`` repeats the uninterrupted run exactly
(same batches, masks, dropout, losses); see docs/robustness.md."""
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmris.registry import LOOPS
from ..hooks.rng_state import (RNGStateHook, preserved_rng_state,
                               restore_rng_state)


class _ExactResumeMixin:
    """Generator-state handling shared by the exact-resume loops."""

    def _ensure_rng_hook(self) -> None:
        """Register :class:`RNGStateHook` unless the config has one."""
        if self._rng_hook() is None:
            self.runner.register_hook(RNGStateHook())

    def _rng_hook(self):
        for hook in self.runner.hooks:
            if isinstance(hook, RNGStateHook):
                return hook
        return None

    def _restore_generators(self) -> None:
        """Restore the resumed checkpoint's generator states (once; a
        ``load_from`` checkpoint, which starts at iteration 0, is not a
        resume and keeps the fresh generators)."""
        state = self._rng_hook().pop_resumed_state()
        if state is not None and self._iter > 0:
            restore_rng_state(state)
            print_log('Restored the random generator states of the '
                      'checkpoint', logger='current')

    def _skip_batches(self, iterator, num: int) -> None:
        """Re-read (and drop) ``num`` batches already trained on."""
        if num:
            print_log(
                f'Re-reading {num} batches to resume the data order exactly',
                logger='current')
        for _ in range(num):
            next(iterator)

    def _validate(self) -> None:
        """Validate without moving the training generators."""
        with preserved_rng_state():
            self.runner.val_loop.run()


@LOOPS.register_module()
class ExactResumeIterBasedTrainLoop(_ExactResumeMixin, IterBasedTrainLoop):
    """``IterBasedTrainLoop`` with exact resume.

    mmengine's loop already re-reads (and discards) the batches trained on
    before the checkpoint, so the sampler, the data workers' generators and
    per-process generators such as MaskRIS's are where they were. What it
    misses, and this loop adds:

    * the main process's python/numpy/torch generator states are restored
      from the checkpoint (written by :class:`RNGStateHook`, registered
      automatically) *after* that skip, before the first new batch;
    * validation runs with the generators saved and restored around it, so
      validating (which a resumed run may not repeat) never shifts the
      training randomness.

    Use with ``default_hooks.checkpoint=dict(type='CheckpointHook',
    by_epoch=False, interval=N)`` and ``log_processor.by_epoch=False``.
    Same arguments as :class:`mmengine.runner.IterBasedTrainLoop`.
    """

    def __init__(self, runner, *args, **kwargs) -> None:
        super().__init__(runner, *args, **kwargs)
        self._ensure_rng_hook()

    def _should_validate(self) -> bool:
        return self.runner.val_loop is not None and \
            self._iter >= self.val_begin and (
                self._iter % self.val_interval == 0
                or self._iter == self._max_iters)

    def run(self):
        """Launch (or resume) training."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._skip_batches(self.dataloader_iterator, self._iter)
            self._restore_generators()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            self.run_iter(next(self.dataloader_iterator))
            self._decide_current_val_interval()
            if self._should_validate():
                self._validate()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model


@LOOPS.register_module()
class ExactResumeEpochBasedTrainLoop(_ExactResumeMixin, EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that resumes exactly, also mid-epoch.

    mmengine's loop restarts the epoch of a mid-epoch checkpoint
    (``CheckpointHook(by_epoch=False)``) from its first batch, so samples
    are trained on twice. This loop re-reads (and drops) the batches of the
    epoch already trained on, restores the checkpoint's generator states
    (:class:`RNGStateHook`, registered automatically) and goes on from
    there; validation runs with the generators preserved.

    Same arguments as :class:`mmengine.runner.EpochBasedTrainLoop`.
    """

    def __init__(self, runner, *args, **kwargs) -> None:
        super().__init__(runner, *args, **kwargs)
        self._ensure_rng_hook()

    def _should_validate(self) -> bool:
        return self.runner.val_loop is not None and \
            self._epoch >= self.val_begin and (
                self._epoch % self.val_interval == 0
                or self._epoch == self._max_epochs)

    def run(self):
        """Launch (or resume) training."""
        self.runner.call_hook('before_train')
        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch()
            self._decide_current_val_interval()
            if self._should_validate():
                self._validate()
        self.runner.call_hook('after_train')
        return self.runner.model

    def _epoch_iterator(self):
        """The epoch's data iterator, past the batches already trained on
        (mid-epoch resume), with the generators restored at the point the
        checkpoint was taken."""
        done = self._iter - self._epoch * len(self.dataloader)
        if done <= 0:  # the checkpoint closed an epoch (or a fresh start)
            self._restore_generators()
            return 0, iter(self.dataloader)
        iterator = iter(self.dataloader)
        self._skip_batches(iterator, done)
        self._restore_generators()
        return done, iterator

    def run_epoch(self) -> None:
        """Iterate the (rest of the) epoch."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        start, iterator = self._epoch_iterator()
        for idx, data_batch in enumerate(iterator, start=start):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
