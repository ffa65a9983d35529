"""Shared fixtures of the reliability tests (docs/robustness.md)."""
import glob
import json
import os.path as osp

import pytest

from mmris.testing import build_refer_sample
from mmris.testing.tools import REPO, dry_run_config, tiny_model_options

MASKRIS_CONFIG = osp.join(REPO, 'configs', 'maskris', 'refcoco.py')


@pytest.fixture(scope='session')
def sample_data_root(tmp_path_factory):
    """The real-annotation RefCOCO sample with blank images."""
    return build_refer_sample(str(tmp_path_factory.mktemp('refer_sample')))


def iter_based_maskris(data_root, work_dir, max_iters, ckpt_interval=None,
                       seed=0, scale=(64, 64), by_epoch=False):
    """The tiny MaskRIS (toy widths, 64-px images) with exact resume, a
    loss logged every iteration (no smoothing) and a checkpoint every
    ``ckpt_interval`` iterations: an iteration-based run, or with
    ``by_epoch`` an epoch-based one of 2 epochs of ``max_iters // 2``."""
    cfg = dry_run_config(MASKRIS_CONFIG, tiny_model_options(data_root, 2),
                         work_dir, scale)
    # the sample has 2 training refs (1 batch); repeat them. Long epochs
    # also avoid mmengine's 2 s sleep at each epoch end of iteration loops.
    times = max_iters // 2 if by_epoch else 50
    cfg.train_dataloader.dataset = dict(
        type='RepeatDataset',
        times=times,
        dataset=cfg.train_dataloader.dataset)
    if by_epoch:
        cfg.train_cfg = dict(
            type='ExactResumeEpochBasedTrainLoop',
            max_epochs=2,
            val_interval=10**6)
    else:
        cfg.train_cfg = dict(
            type='ExactResumeIterBasedTrainLoop',
            max_iters=max_iters,
            val_interval=10**6)
    cfg.randomness = dict(seed=seed, deterministic=True)
    # a visualizer (hence scalars.json) of its own for each in-process run
    cfg.visualizer.name = f'visualizer-{work_dir}'
    cfg.experiment_name = f'run-{work_dir}'.replace('/', '_')
    cfg.log_processor = dict(by_epoch=False, window_size=1)
    cfg.default_hooks.logger = dict(
        type='LoggerHook', interval=1, log_metric_by_epoch=False)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=ckpt_interval or max_iters,
        max_keep_ckpts=-1)
    return cfg


def logged_losses(work_dir) -> dict:
    """``{iteration: loss}`` from every ``vis_data/scalars.json`` of a work
    dir (a resumed run writes a new time-stamped folder)."""
    losses = {}
    pattern = osp.join(str(work_dir), '*', 'vis_data', 'scalars.json')
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'loss' in record:
                    losses[record['step']] = record['loss']
    return losses


@pytest.fixture
def maskris_iter_cfg():
    """:func:`iter_based_maskris` (a fixture: test dirs are no packages)."""
    return iter_based_maskris


@pytest.fixture
def read_losses():
    """:func:`logged_losses`."""
    return logged_losses


@pytest.fixture
def no_deterministic_leak():
    """Undo ``randomness.deterministic=True`` for the following tests."""
    import torch
    yield
    torch.use_deterministic_algorithms(False)
