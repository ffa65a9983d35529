"""A failure (or kill) while saving never leaves a truncated checkpoint."""
import os

import pytest
import torch

import mmris  # noqa: F401  (applies the runtime patches)
from mmris.utils import compat


def _write_then_fail(obj, f, *args, **kwargs):
    """torch.save that dies half-way: some bytes written, then an error."""
    f.write(b'PK\x03\x04 partial checkpoint bytes')
    f.flush()
    raise OSError('disk full (simulated)')


def _save(path, value):
    import mmengine.runner.runner as runner_module
    runner_module.save_checkpoint(
        dict(state_dict=dict(w=torch.full((4, ), float(value)))), str(path))


def test_runner_uses_the_atomic_save():
    import mmengine.hooks.checkpoint_hook as hook_module
    import mmengine.runner as runner_pkg
    import mmengine.runner.runner as runner_module
    assert runner_module.save_checkpoint is compat.atomic_save_checkpoint
    assert runner_pkg.save_checkpoint is compat.atomic_save_checkpoint
    assert hook_module.open is compat._checkpoint_hook_open


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / 'iter_10.pth'
    _save(path, 1)
    monkeypatch.setattr(torch, 'save', _write_then_fail)
    with pytest.raises(OSError, match='simulated'):
        _save(path, 2)
    monkeypatch.undo()
    loaded = compat.load_local_checkpoint(str(path))
    assert torch.equal(loaded['state_dict']['w'], torch.ones(4))
    assert os.listdir(tmp_path) == ['iter_10.pth']  # no .tmp left behind


def test_failed_first_save_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, 'save', _write_then_fail)
    with pytest.raises(OSError):
        _save(tmp_path / 'iter_5.pth', 1)
    assert os.listdir(tmp_path) == []


def test_killed_save_leaves_only_a_tmp_file(tmp_path, monkeypatch):
    """A SIGKILL cannot run cleanup code: then the partial bytes stay under
    ``<name>.tmp``, never under the checkpoint's name."""
    path = tmp_path / 'iter_20.pth'
    _save(path, 1)

    def killed(obj, f, *args, **kwargs):
        f.write(b'partial')
        f.flush()
        raise KeyboardInterrupt  # stands in for the kill; skip cleanup

    monkeypatch.setattr(torch, 'save', killed)
    monkeypatch.setattr(compat.os, 'remove', lambda p: None)
    with pytest.raises(KeyboardInterrupt):
        _save(path, 2)
    monkeypatch.undo()
    assert (tmp_path / 'iter_20.pth.tmp').read_bytes() == b'partial'
    loaded = compat.load_local_checkpoint(str(path))
    assert torch.equal(loaded['state_dict']['w'], torch.ones(4))


def test_last_checkpoint_pointer_is_replaced_atomically(tmp_path):
    import mmengine.hooks.checkpoint_hook as hook_module
    pointer = tmp_path / 'last_checkpoint'
    pointer.write_text('/work/iter_10.pth')
    with pytest.raises(RuntimeError):
        with hook_module.open(str(pointer), 'w') as f:
            f.write('/work/iter_2')
            raise RuntimeError('killed while writing')
    assert pointer.read_text() == '/work/iter_10.pth'
    with hook_module.open(str(pointer), 'w') as f:
        f.write('/work/iter_20.pth')
    assert pointer.read_text() == '/work/iter_20.pth'
    assert sorted(os.listdir(tmp_path)) == ['last_checkpoint']


def test_other_files_open_normally(tmp_path):
    import mmengine.hooks.checkpoint_hook as hook_module
    path = tmp_path / 'notes.txt'
    with hook_module.open(str(path), 'w') as f:
        f.write('x')
    with hook_module.open(str(path)) as f:
        assert f.read() == 'x'


class _FakeRunner:
    """What CheckpointHook._save_checkpoint_with_step uses of a Runner."""

    def __init__(self, work_dir, fail=False):
        from mmengine.logging import MessageHub
        self.work_dir = str(work_dir)
        self.message_hub = MessageHub.get_instance('atomic-ckpt-test')
        self.fail = fail

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        if self.fail:
            raise OSError('killed while saving (simulated)')
        _save(os.path.join(out_dir, filename), 1)


def test_old_checkpoint_deleted_only_after_the_new_one(tmp_path):
    from collections import deque

    from mmengine.fileio import get_file_backend
    from mmengine.hooks import CheckpointHook
    hook = CheckpointHook(interval=1, by_epoch=False, max_keep_ckpts=1)
    hook.out_dir = str(tmp_path)
    hook.file_backend = get_file_backend(str(tmp_path))
    hook.keep_ckpt_ids = deque(maxlen=1)
    hook._save_checkpoint_with_step(_FakeRunner(tmp_path), 1, {})
    with pytest.raises(OSError, match='simulated'):
        hook._save_checkpoint_with_step(
            _FakeRunner(tmp_path, fail=True), 2, {})
    # the save of iter 2 failed: iter 1 is still there to resume from
    assert os.path.isfile(tmp_path / 'iter_1.pth')
    assert hook.max_keep_ckpts == 1
    # a failed save ends the run; go on as the resumed run's hook would
    hook.keep_ckpt_ids = deque([1], maxlen=1)
    hook._save_checkpoint_with_step(_FakeRunner(tmp_path), 3, {})
    assert sorted(os.listdir(tmp_path)) == ['iter_3.pth', 'last_checkpoint']
    assert list(hook.keep_ckpt_ids) == [3]
