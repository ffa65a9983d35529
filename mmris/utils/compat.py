"""Shims that keep mmengine 0.10.7 working on today's torch.

Each shim is small, logged once and covered by
``tests/test_utils/test_compat.py``.
"""
import os

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader

_PATCHED = False


def load_local_checkpoint(filename, map_location=None):
    """Load a local checkpoint written by mmengine's Runner.

    torch>=2.6 defaults ``torch.load`` to ``weights_only=True``, which cannot
    unpickle the message hub that mmengine stores in every checkpoint, so
    ``--resume``, ``load_from`` and ``tools/test.py`` fail. Checkpoints are
    files the user chose to load, so they are trusted here.
    """
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(
            f'checkpoint file "{filename}" does not exist; check the path '
            'given to --resume, load_from or the test checkpoint argument.')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    except Exception as err:  # truncated or not a torch file at all
        raise RuntimeError(
            f'cannot read checkpoint "{filename}": {type(err).__name__}: '
            f'{err}. The file is not a PyTorch checkpoint or is truncated '
            '(an interrupted download or save); download or save it again.'
        ) from err


def apply_runtime_patches():
    """Register the trusted local checkpoint loader (once per process)."""
    global _PATCHED
    if _PATCHED:
        return
    CheckpointLoader.register_scheme(prefixes='', force=True)(
        load_local_checkpoint)
    _PATCHED = True
    print_log(
        'mmris: local checkpoints load with weights_only=False '
        '(mmengine 0.10.7 + torch>=2.6).',
        logger='current',
        level=10)  # DEBUG: not shown by default
