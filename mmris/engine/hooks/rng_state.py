"""Save the random generators' states in checkpoints, for exact resume."""
import random
from contextlib import contextmanager
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmris.registry import HOOKS


def capture_rng_state() -> dict:
    """The states of python's, numpy's and torch's (CPU, CUDA) generators."""
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`capture_rng_state` (missing parts are left)."""
    if 'python' in state:
        random.setstate(state['python'])
    if 'numpy' in state:
        np.random.set_state(state['numpy'])
    if 'torch' in state:
        torch.set_rng_state(torch.as_tensor(state['torch']).cpu())
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and \
            len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([c.cpu() for c in cuda])


@contextmanager
def preserved_rng_state():
    """Run a block (e.g. validation) without moving the generators."""
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Store the generators' states in every checkpoint (``rng_state``).

    On resume the state is kept in :attr:`resumed_state`;
    :class:`mmris.engine.runner.ExactResumeIterBasedTrainLoop` restores it
    once it has skipped the batches already trained on, which makes the
    continued run repeat the uninterrupted one (see docs/robustness.md).
    The state is the saving process's (rank 0); other ranks are not
    restored.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.resumed_state: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = capture_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.resumed_state = checkpoint.get('rng_state')
        if self.resumed_state is None:
            print_log(
                'RNGStateHook: the checkpoint has no rng_state (saved '
                'without this hook); a resumed run will not repeat the '
                'uninterrupted one exactly.',
                logger='current',
                level=30)

    def pop_resumed_state(self) -> Optional[dict]:
        """The loaded state, once (None when there is none)."""
        state, self.resumed_state = self.resumed_state, None
        return state
