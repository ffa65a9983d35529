"""2-process tools/dist_test.sh == single-process tools/test.py on an
odd-sized split: no sample dropped or counted twice (mmengine's
DefaultSampler pads the last rank, ``collect_results`` cuts the padding)."""
import pickle
import re
import sys
from argparse import Namespace

import torch
from mmengine.registry import DefaultScope

from mmris.testing.tools import (SMOKE_CONFIG, data_root_options, free_port,
                                 run_tool, tool_env)

NUM_ITEMS = 5  # odd: 2 ranks get 3 + 3 with one padded duplicate


def _random_checkpoint(path):
    """An untrained smoke model: its predictions differ per sample, so a
    dropped or duplicated one changes mIoU."""
    from mmris.registry import MODELS
    from mmris.utils.tool_cfg import load_tool_config
    cfg = load_tool_config(
        Namespace(
            config=SMOKE_CONFIG,
            launcher='none',
            work_dir=None,
            cfg_options=None))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmris'):
        model = MODELS.build(cfg.model)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)


def _metrics(log):
    """The metrics of the final ``Epoch(test)`` line."""
    line = [ln for ln in log.splitlines()
            if '(test)' in ln and 'oIoU:' in ln][-1]
    return dict(re.findall(r'(oIoU|mIoU|P@0\.\d): (\S+)', line))


def _sentences_counted(log):
    return int(re.search(r'\|\s*val\s*\|\s*(\d+)\s*\|', log).group(1))


def test_dist_test_equals_single_process(sample_data_root, tmp_path):
    ckpt = str(tmp_path / 'model.pth')
    _random_checkpoint(ckpt)
    options = data_root_options(sample_data_root) + [
        f'test_dataloader.dataset.indices={NUM_ITEMS}',
        'test_dataloader.batch_size=2'
    ]
    single = run_tool([
        sys.executable, 'tools/test.py', SMOKE_CONFIG, ckpt, '--work-dir',
        str(tmp_path / 'single'), '--out',
        str(tmp_path / 'single.pkl'), '--cfg-options', *options
    ])
    env = tool_env()
    env['PORT'] = str(free_port())
    dist = run_tool([
        'bash', 'tools/dist_test.sh', SMOKE_CONFIG, ckpt, '2', '--work-dir',
        str(tmp_path / 'dist'), '--out',
        str(tmp_path / 'dist.pkl'), '--cfg-options', *options
    ],
                    env=env)
    assert 'world_size: 2' in dist or 'Distributed launcher' in dist
    assert _sentences_counted(single) == _sentences_counted(dist) == \
        NUM_ITEMS
    assert _metrics(single) == _metrics(dist)
    assert float(_metrics(single)['mIoU']) > 0

    preds = []
    for name in ('single.pkl', 'dist.pkl'):
        with open(tmp_path / name, 'rb') as f:
            preds.append(pickle.load(f))
    assert len(preds[0]) == len(preds[1]) == NUM_ITEMS
    for a, b in zip(*preds):
        assert a['sent_id'] == b['sent_id']
        assert torch.equal(a['pred_sem_seg']['data'],
                           b['pred_sem_seg']['data'])
