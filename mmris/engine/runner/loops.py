"""An iteration-based train loop whose ``--resume`` repeats the
uninterrupted run exactly (same batches, masks, dropout, losses)."""
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

from mmris.registry import LOOPS
from ..hooks.rng_state import (RNGStateHook, preserved_rng_state,
                               restore_rng_state)


@LOOPS.register_module()
class ExactResumeIterBasedTrainLoop(IterBasedTrainLoop):
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
        if self._rng_hook() is None:
            runner.register_hook(RNGStateHook())

    def _rng_hook(self):
        for hook in self.runner.hooks:
            if isinstance(hook, RNGStateHook):
                return hook
        return None

    def _skip_trained_batches(self) -> None:
        """Re-read the batches of the iterations done before resuming."""
        print_log(
            f'Re-reading {self._iter} batches to resume the data order '
            'exactly', logger='current')
        for _ in range(self._iter):
            next(self.dataloader_iterator)

    def _restore_generators(self) -> None:
        state = self._rng_hook().pop_resumed_state()
        if state is not None:
            restore_rng_state(state)
            print_log('Restored the random generator states of the '
                      'checkpoint', logger='current')

    def _should_validate(self) -> bool:
        val_loop = self.runner.val_loop
        return val_loop is not None and self._iter >= self.val_begin and (
            self._iter % self.val_interval == 0
            or self._iter == self._max_iters)

    def run(self):
        """Launch (or resume) training."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._skip_trained_batches()
            self._restore_generators()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            self.run_iter(next(self.dataloader_iterator))
            self._decide_current_val_interval()
            if self._should_validate():
                with preserved_rng_state():
                    self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model
