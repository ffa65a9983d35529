"""Shims that keep mmengine 0.10.7 working on today's torch.

Each shim is small, logged once and covered by
``tests/test_utils/test_compat.py``.
"""
import builtins
import contextlib
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


def _is_local_path(filename) -> bool:
    """A plain file-system path (no ``scheme://`` prefix)."""
    return isinstance(filename, (str, os.PathLike)) and \
        '://' not in os.fspath(filename)


@contextlib.contextmanager
def atomic_write(path, mode='wb', **kwargs):
    """Open ``<path>.tmp`` for writing and move it onto ``path`` on success.

    The data is flushed and fsync'ed before ``os.replace`` (atomic on POSIX
    and Windows), so ``path`` always holds either its old content or the
    complete new one; on any error (or a kill) the temporary file is removed
    or left under the ``.tmp`` name, never under the final one.
    """
    path = os.fspath(path)
    tmp = f'{path}.tmp'
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        with builtins.open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def atomic_save_checkpoint(checkpoint,
                           filename,
                           file_client_args=None,
                           backend_args=None):
    """mmengine's ``save_checkpoint`` with an atomic write for local paths.

    mmengine 0.10.7 writes the bytes straight to the final name, so a kill
    during the write leaves a truncated ``epoch_N.pth`` that ``--resume``
    then fails on. Remote backends (and explicit file-client/backend
    arguments) keep mmengine's behaviour.
    """
    if not _is_local_path(filename) or file_client_args is not None or \
            backend_args is not None:
        return _ORIGINALS['save_checkpoint'](
            checkpoint,
            filename,
            file_client_args=file_client_args,
            backend_args=backend_args)
    with atomic_write(filename, 'wb') as f:
        torch.save(checkpoint, f)


def _checkpoint_hook_open(file, mode='r', *args, **kwargs):
    """``open`` for mmengine's CheckpointHook: the ``last_checkpoint``
    pointer is written atomically, everything else is plain ``open``."""
    if 'w' in mode and _is_local_path(file) and \
            os.path.basename(os.fspath(file)) == 'last_checkpoint':
        return atomic_write(file, mode, *args, **kwargs)
    return builtins.open(file, mode, *args, **kwargs)


_ORIGINALS = {}


def _save_then_prune(hook, runner, step, meta):
    """``CheckpointHook._save_checkpoint_with_step`` that deletes the
    oldest kept checkpoint only *after* the new one is complete.

    mmengine deletes first, so with ``max_keep_ckpts=1`` (our default
    runtime) a kill during the save would leave no usable checkpoint.
    """
    from collections import deque

    from mmengine.dist import is_main_process
    keep = hook.max_keep_ckpts
    if keep <= 0:
        return _ORIGINALS['save_with_step'](hook, runner, step, meta)
    hook.max_keep_ckpts = keep + 1
    hook.keep_ckpt_ids = deque(hook.keep_ckpt_ids, maxlen=keep + 1)
    try:
        _ORIGINALS['save_with_step'](hook, runner, step, meta)
    finally:
        hook.max_keep_ckpts = keep
    while len(hook.keep_ckpt_ids) > keep:
        old = hook.keep_ckpt_ids.popleft()
        path = hook.file_backend.join_path(hook.out_dir,
                                           hook.filename_tmpl.format(old))
        if is_main_process() and hook.file_backend.isfile(path):
            hook.file_backend.remove(path)
    hook.keep_ckpt_ids = deque(hook.keep_ckpt_ids, maxlen=keep)
    runner.message_hub.update_info('keep_ckpt_ids', list(hook.keep_ckpt_ids))


def patch_atomic_checkpoints() -> None:
    """Make checkpoint files and the ``last_checkpoint`` pointer atomic.

    Patched names: ``mmengine.runner.runner.save_checkpoint`` (what
    ``Runner.save_checkpoint``, hence ``CheckpointHook``, calls),
    ``mmengine.runner.save_checkpoint`` and
    ``mmengine.runner.checkpoint.save_checkpoint``; ``open`` inside
    ``mmengine.hooks.checkpoint_hook`` (module globals shadow builtins),
    used only for the pointer file; and
    ``CheckpointHook._save_checkpoint_with_step``, so that the oldest kept
    checkpoint is deleted after the new one is saved, not before.
    """
    import mmengine.hooks.checkpoint_hook as hook_module
    import mmengine.runner as runner_pkg
    import mmengine.runner.checkpoint as ckpt_module
    import mmengine.runner.runner as runner_module
    _ORIGINALS.setdefault('save_checkpoint', ckpt_module.save_checkpoint)
    for module in (runner_module, runner_pkg, ckpt_module):
        module.save_checkpoint = atomic_save_checkpoint
    hook_module.open = _checkpoint_hook_open
    hook_cls = hook_module.CheckpointHook
    _ORIGINALS.setdefault('save_with_step',
                          hook_cls._save_checkpoint_with_step)
    hook_cls._save_checkpoint_with_step = _save_then_prune


def apply_runtime_patches():
    """Register the trusted local checkpoint loader and the atomic
    checkpoint writes (once per process)."""
    global _PATCHED
    if _PATCHED:
        return
    CheckpointLoader.register_scheme(prefixes='', force=True)(
        load_local_checkpoint)
    patch_atomic_checkpoints()
    _PATCHED = True
    print_log(
        'mmris: local checkpoints load with weights_only=False '
        '(mmengine 0.10.7 + torch>=2.6).',
        logger='current',
        level=10)  # DEBUG: not shown by default
