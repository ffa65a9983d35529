"""tools/train.py and tools/test.py on bad checkpoints and configs.

Rows of the table in docs/robustness.md. ``--amp`` without CUDA is covered
by ``test_amp_flag_on_cpu_trains_in_fp32`` in
``tests/test_tools/test_train_test.py``.
"""
import subprocess
import sys
from argparse import Namespace

import pytest
import torch
from mmengine.config import DictAction

from mmris.testing.tools import (REPO, SMOKE_CONFIG, data_root_options,
                                 tool_env)
from mmris.utils.compat import load_local_checkpoint
from mmris.utils.tool_cfg import load_tool_config

MASKRIS = 'configs/maskris/refcoco.py'


def run_failing(args, timeout=300):
    """Run a tool that must fail; return its output."""
    proc = subprocess.run(
        args,
        cwd=REPO,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)
    assert proc.returncode != 0, proc.stdout[-3000:]
    return proc.stdout


def _test_tool(checkpoint, data_root, work_dir):
    return run_failing([
        sys.executable, 'tools/test.py', SMOKE_CONFIG,
        str(checkpoint), '--work-dir',
        str(work_dir), '--cfg-options', *data_root_options(data_root)
    ])


def test_test_tool_refuses_checkpoint_of_another_model(
        tmp_path, sample_data_root):
    ckpt = tmp_path / 'other.pth'
    torch.save(
        dict(state_dict={'backbone.fc.weight': torch.zeros(3, 3)}, meta={}),
        ckpt)
    log = _test_tool(ckpt, sample_data_root, tmp_path / 'w')
    assert 'does not match the model of this config' in log
    assert 'unexpected: backbone.fc.weight' in log
    assert 'missing: ' in log and 'oIoU:' not in log


def test_truncated_checkpoint_names_the_file(tmp_path):
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict={'w': torch.zeros(1000)}), ckpt)
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match='epoch_1.pth.*truncated'):
        load_local_checkpoint(str(ckpt))


def test_partly_matching_checkpoint_lists_keys():
    from mmris.engine.hooks import compare_state_dicts
    model = {'a': torch.zeros(2), 'b': torch.zeros(3)}
    report = compare_state_dicts(model, {
        'module.a': torch.zeros(2),
        'b': torch.zeros(4),
        'c': torch.zeros(1)
    })
    assert report['missing'] == [] and report['unexpected'] == ['c']
    assert report['matched'] == 2 and report['mismatched'] == [
        'b (4,) vs model (3,)'
    ]


def test_unknown_type_suggests_the_registered_name(tmp_path,
                                                   sample_data_root):
    config = tmp_path / 'typo.py'
    config.write_text(f'_base_ = {SMOKE_CONFIG!r}\n'
                      "model = dict(decode_head=dict(type='FCNHaed'))\n")
    log = run_failing([
        sys.executable, 'tools/train.py',
        str(config), '--work-dir',
        str(tmp_path / 'w'), '--cfg-options',
        *data_root_options(sample_data_root)
    ])
    assert 'FCNHaed is not in the mmris::model registry' in log
    assert "Did you mean 'FCNHead'" in log


def test_unknown_type_hint_for_datasets_and_transforms():
    from mmris.utils.registry_hints import UnknownTypeError, registry_hints
    from mmris.utils.setup_env import register_all_modules
    register_all_modules(init_default_scope=False)
    from mmris.registry import DATASETS, TRANSFORMS
    for registry, typo, right in ((DATASETS, 'RefCOCODatset',
                                   'RefCOCODataset'),
                                  (TRANSFORMS, 'BertTokenise',
                                   'BertTokenize')):
        with pytest.raises(UnknownTypeError, match=f"'{right}'"):
            with registry_hints():
                registry.build(dict(type=typo))


def _load(config, *options):
    parsed = Namespace()
    DictAction(option_strings=[], dest='opts')(None, parsed, list(options))
    return load_tool_config(
        Namespace(
            config=config,
            launcher='none',
            work_dir=None,
            cfg_options=parsed.opts))


@pytest.mark.parametrize('option,key', [
    ('train_dataloader.batch_size=-2', 'train_dataloader.batch_size'),
    ('val_dataloader.num_workers=-1', 'val_dataloader.num_workers'),
    ('train_cfg.max_epochs=0', 'train_cfg.max_epochs'),
    ('train_dataloader.dataset.pipeline.4.img_mask_ratio=1.5',
     'train_dataloader.dataset.pipeline.4 (MaskRIS): img_mask_ratio'),
    ('train_dataloader.dataset.pipeline.4.txt_mask_ratio=-0.1',
     'train_dataloader.dataset.pipeline.4 (MaskRIS): txt_mask_ratio'),
])
def test_out_of_range_cfg_options_name_the_key(option, key):
    with pytest.raises(ValueError) as info:
        _load(MASKRIS, option)
    assert str(info.value).startswith(key)
