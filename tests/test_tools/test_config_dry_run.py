"""Every CARIS/MaskRIS config trains and evaluates as a tiny CPU dry run.

The configs are the full-size recipes; ``tiny_model_options`` turns them
into toy-width, randomly initialised models on the real-annotation sample
(with a small refcocom pack), exactly as a user would on the command line.
"""
import glob
import os.path as osp

import pytest

from mmris.testing.tools import (REPO, dry_run_config, free_port, run_tool,
                                 tiny_model_options, tool_env)

CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'maskris', 'maskris_*.py')) +
    glob.glob(osp.join(REPO, 'configs', 'caris', 'caris_*.py')))
ALIASES = sorted(
    glob.glob(osp.join(REPO, 'configs', 'maskris', 'ref*.py')) +
    glob.glob(osp.join(REPO, 'configs', 'caris', 'ref*.py')))


@pytest.mark.parametrize('config', ALIASES, ids=osp.basename)
def test_short_names_are_aliases(config):
    from mmengine.config import Config
    alias = Config.fromfile(config)
    folder = osp.dirname(config)
    (target, ) = [
        c for c in CONFIGS if osp.dirname(c) == folder
        and c.endswith('_50e_' + osp.basename(config))
    ]
    assert alias.to_dict() == Config.fromfile(target).to_dict()


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_dry_run_trains_and_evaluates(config, refcocom_data_root, tmp_path):
    from mmengine.runner import Runner
    data_root, _ = refcocom_data_root
    cfg = dry_run_config(config, tiny_model_options(data_root, 1), tmp_path)
    assert cfg.train_dataloader.dataset.data_root == data_root
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter >= 2
    scalars = runner.message_hub.log_scalars
    assert all(k in scalars for k in ('train/loss', 'train/lr'))
    metrics = runner.test()
    assert any(key.endswith('oIoU') for key in metrics), metrics
    if 'maskris' in osp.basename(config):
        assert 'train/loss_masked' in scalars


def test_dist_train_and_test_maskris_refcoco(tmp_path, sample_data_root):
    """The documented commands, 2 CPU processes (gloo), tiny model."""
    config = 'configs/maskris/refcoco.py'
    options = tiny_model_options(sample_data_root, batch_size=1)
    env = tool_env()
    env['PORT'] = str(free_port())
    work_dir = tmp_path / 'dist'
    log = run_tool([
        'bash', 'tools/dist_train.sh', config, '2', '--work-dir',
        str(work_dir), '--cfg-options', *options
    ], env=env)
    assert 'loss_masked' in log
    (ckpt, ) = glob.glob(str(work_dir / 'epoch_1.pth'))
    env['PORT'] = str(free_port())
    log = run_tool([
        'bash', 'tools/dist_test.sh', config, ckpt, '2', '--work-dir',
        str(tmp_path / 'dist_test'), '--cfg-options', *options
    ], env=env)
    for split in ('val', 'testA', 'testB'):
        assert f'{split}/oIoU' in log
