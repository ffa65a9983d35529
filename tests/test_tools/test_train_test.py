"""tools/train.py, tools/test.py, --resume and mim, run as a user would."""
import os.path as osp
import sys

import torch

from mmris.testing.tools import SMOKE_CONFIG, data_root_options, run_tool


def _train(work_dir, data_root, max_epochs, *extra):
    return run_tool([
        sys.executable, 'tools/train.py', SMOKE_CONFIG, '--work-dir',
        str(work_dir), *extra, '--cfg-options', *data_root_options(data_root),
        f'train_cfg.max_epochs={max_epochs}'
    ])


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def test_train_stop_resume_continues(tmp_path, sample_data_root):
    work_dir = tmp_path / 'run'
    _train(work_dir, sample_data_root, 2)
    first = _load(work_dir / 'epoch_2.pth')
    iters_per_epoch = first['meta']['iter'] // 2
    assert iters_per_epoch >= 1

    log = _train(work_dir, sample_data_root, 3, '--resume')
    assert 'resumed epoch: 2' in log.replace('resumed epoch:2', '')
    resumed = _load(work_dir / 'epoch_3.pth')
    assert resumed['meta']['epoch'] == 3
    assert resumed['meta']['iter'] == 3 * iters_per_epoch
    # AdamW's step count continued from the checkpoint instead of restarting
    steps = {int(s['step']) for s in resumed['optimizer']['state'].values()}
    assert steps == {3 * iters_per_epoch}
    # and the weights moved on from the resumed ones
    key = next(k for k in first['state_dict'] if k.endswith('conv_seg.weight'))
    assert not torch.equal(first['state_dict'][key],
                           resumed['state_dict'][key])


def test_resume_from_explicit_checkpoint(tmp_path, sample_data_root):
    work_dir = tmp_path / 'run'
    _train(work_dir, sample_data_root, 1)
    ckpt = work_dir / 'epoch_1.pth'
    log = _train(tmp_path / 'other', sample_data_root, 2, '--resume',
                 str(ckpt))
    assert 'resumed epoch: 1' in log
    assert osp.isfile(tmp_path / 'other' / 'epoch_2.pth')


def test_test_tool_reports_metrics_and_dumps(tmp_path, sample_data_root):
    work_dir = tmp_path / 'run'
    _train(work_dir, sample_data_root, 1)
    out = tmp_path / 'preds.pkl'
    log = run_tool([
        sys.executable, 'tools/test.py', SMOKE_CONFIG,
        str(work_dir / 'epoch_1.pth'), '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(out), '--cfg-options', *data_root_options(sample_data_root)
    ])
    assert 'oIoU' in log and 'mIoU' in log and 'P@0.9' in log
    assert osp.getsize(out) > 0


def test_amp_flag_on_cpu_trains(tmp_path, sample_data_root):
    """--amp without CUDA: bf16 autocast where this CPU has native bf16,
    else fp32; the log says which."""
    if torch.cuda.is_available():
        return
    from mmris.engine.optimizers import cpu_has_native_bf16
    log = _train(tmp_path / 'amp', sample_data_root, 1, '--amp')
    assert 'needs a CUDA device' in log
    expected = 'bf16 autocast' if cpu_has_native_bf16() else 'in fp32'
    assert expected in log
    assert osp.isfile(tmp_path / 'amp' / 'epoch_1.pth')


def test_mim_train_and_test(tmp_path, sample_data_root):
    mim = [sys.executable, '-m', 'mim']
    work_dir = tmp_path / 'mim'
    run_tool(mim + [
        'train', 'mmris', SMOKE_CONFIG, '--gpus', '0', '--work-dir',
        str(work_dir), '--cfg-options', *data_root_options(sample_data_root),
        'train_cfg.max_epochs=1'
    ])
    ckpt = work_dir / 'epoch_1.pth'
    assert osp.isfile(ckpt)
    # by basename, as mim users call it: resolved inside mmris/.mim/configs
    log = run_tool(mim + [
        'test', 'mmris', osp.basename(SMOKE_CONFIG), '--checkpoint',
        str(ckpt), '--gpus', '0', '--work-dir',
        str(tmp_path / 'mim_test'), '--cfg-options',
        *data_root_options(sample_data_root)
    ])
    assert 'oIoU' in log


def test_dist_train_and_test_two_cpu_processes(tmp_path, sample_data_root):
    from mmris.testing.tools import free_port, tool_env
    env = tool_env()
    env['PORT'] = str(free_port())
    work_dir = tmp_path / 'dist'
    log = run_tool([
        'bash', 'tools/dist_train.sh', SMOKE_CONFIG, '2', '--work-dir',
        str(work_dir), '--cfg-options', *data_root_options(sample_data_root),
        'train_cfg.max_epochs=1'
    ], env=env)
    assert 'Distributed launcher: pytorch' in log or 'world_size: 2' in log
    ckpt = work_dir / 'epoch_1.pth'
    assert osp.isfile(ckpt)
    env['PORT'] = str(free_port())
    log = run_tool([
        'bash', 'tools/dist_test.sh', SMOKE_CONFIG,
        str(ckpt), '2', '--work-dir',
        str(tmp_path / 'dist_test'), '--cfg-options',
        *data_root_options(sample_data_root)
    ], env=env)
    assert 'oIoU' in log
