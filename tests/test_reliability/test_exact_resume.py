"""SIGKILL a CPU training run mid-epoch, ``--resume``: the continued run
logs the same losses and ends with the same weights as an uninterrupted
one (``ExactResumeIterBasedTrainLoop`` or ``ExactResumeEpochBasedTrainLoop``
+ ``RNGStateHook``)."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmris.testing.tools import REPO, run_tool, tool_env
from mmris.utils.compat import load_local_checkpoint

ITERS = 40
EVERY = 4


def _dump_config(cfg_fn, data_root, tmp_path, by_epoch):
    cfg = cfg_fn(
        data_root, str(tmp_path / 'unused'), ITERS, EVERY, by_epoch=by_epoch)
    path = str(tmp_path / 'exact_resume.py')
    cfg.dump(path)
    return path


def _train_args(config, work_dir, *extra):
    return [
        sys.executable, 'tools/train.py', config, '--work-dir',
        str(work_dir), *extra
    ]


def _pointer_names(work_dir, name) -> bool:
    """Whether ``name`` exists and ``last_checkpoint`` points to it."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(osp.join(work_dir, name)) or not osp.isfile(pointer):
        return False
    with open(pointer) as f:
        return osp.basename(f.read().strip()) == name


def _kill_after_checkpoint(config, work_dir, name, timeout=300):
    """Start a run and SIGKILL it as soon as ``name`` has been written and
    the ``last_checkpoint`` pointer names it (the pointer is replaced just
    after the checkpoint: killing between the two resumes, correctly, from
    the previous checkpoint, which is not the case this test is about)."""
    proc = subprocess.Popen(
        _train_args(config, work_dir),
        cwd=REPO,
        env=tool_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    try:
        while not _pointer_names(work_dir, name):
            assert proc.poll() is None, 'the run ended before the kill'
            assert time.time() < deadline, 'no checkpoint in time'
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def _runs(work_dir):
    """The ``{iteration: loss}`` of each run (time-stamped folder) of a
    work dir, oldest first."""
    runs = []
    pattern = osp.join(str(work_dir), '*', 'vis_data', 'scalars.json')
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            records = [json.loads(line) for line in f]
        runs.append({r['step']: r['loss'] for r in records if 'loss' in r})
    return runs


@pytest.mark.parametrize('by_epoch', [False, True], ids=['iter', 'epoch'])
def test_sigkill_then_resume_repeats_the_uninterrupted_run(
        sample_data_root, tmp_path, maskris_iter_cfg, read_losses, by_epoch):
    config = _dump_config(maskris_iter_cfg, sample_data_root, tmp_path,
                          by_epoch)
    reference_dir = tmp_path / 'reference'
    run_tool(_train_args(config, reference_dir))
    reference = read_losses(reference_dir)
    assert sorted(reference) == list(range(1, ITERS + 1))

    work_dir = tmp_path / 'killed'
    _kill_after_checkpoint(config, str(work_dir), f'iter_{2 * EVERY}.pth')
    assert not osp.isfile(work_dir / f'iter_{ITERS}.pth'), 'not killed'
    # the kill may leave a ``.tmp`` file, never a truncated checkpoint
    for ckpt in glob.glob(str(work_dir / 'iter_*.pth')):
        assert 'state_dict' in load_local_checkpoint(ckpt)
    pointer = work_dir / 'last_checkpoint'
    assert not pointer.exists() or osp.isfile(pointer.read_text().strip())
    log = run_tool(_train_args(config, work_dir, '--resume'))
    resumed_at = int(log.split('resumed epoch: ')[1].split('iter: ')[1]
                     .split()[0])
    assert resumed_at >= 2 * EVERY and resumed_at % EVERY == 0

    killed, resumed = _runs(work_dir)
    assert sorted(resumed) == list(range(resumed_at + 1, ITERS + 1))
    assert resumed == {i: reference[i] for i in resumed}
    # what the killed run logged before dying matches too
    assert killed == {i: reference[i] for i in killed}

    final = [
        torch.load(osp.join(d, f'iter_{ITERS}.pth'), weights_only=False)
        for d in (reference_dir, work_dir)
    ]
    for key, value in final[0]['state_dict'].items():
        assert torch.equal(value, final[1]['state_dict'][key]), key
    assert 'rng_state' in final[1]
    assert os.path.getsize(work_dir / 'last_checkpoint') > 0
