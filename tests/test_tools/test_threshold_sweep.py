"""threshold_sweep.py: metrics of dumped logits at several thresholds."""
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from mmris.testing.tools import REPO, load_script

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'threshold_sweep.py')


@pytest.fixture(scope='module')
def tool():
    return load_script(TOOL, 'threshold_sweep')


def dumped(diff, gt, split='val'):
    """One prediction as tools/test.py --out writes it."""
    logits = np.stack([np.zeros_like(diff), diff]).astype(np.float32)
    return dict(
        split=split,
        seg_logits=dict(data=logits),
        gt_sem_seg=dict(data=gt[None].astype(np.int64)))


def test_each_threshold_scores_its_own_mask(tool, tmp_path):
    # referent probabilities 0.9 (4 pixels, true), 0.6 (4, false), 0.2 (8)
    prob = np.array([[0.9] * 4, [0.6] * 4, [0.2] * 4, [0.2] * 4])
    diff = np.log(prob / (1 - prob))
    gt = np.zeros((4, 4), bool)
    gt[0] = True
    path = str(tmp_path / 'preds.pkl')
    testa = dumped(diff, gt, 'testA')
    # as a bf16 test run dumps them (0.9 and 0.6 keep their side of 0.7)
    testa['seg_logits']['data'] = torch.from_numpy(
        testa['seg_logits']['data']).bfloat16()
    with open(path, 'wb') as f:
        pickle.dump([dumped(diff, gt), testa], f)
    stats = tool.main([path, '--thresholds', '0.5', '0.7', '0.1'])
    assert set(stats) == {'val', 'testA'}
    assert stats['val'][0.5]['oIoU'] == pytest.approx(50.0)  # 4 / 8
    assert stats['val'][0.7]['oIoU'] == pytest.approx(100.0)
    assert stats['val'][0.1]['oIoU'] == pytest.approx(25.0)  # 4 / 16
    assert stats['val'][0.7]['P@0.5'] == 100.0
    assert stats['val'][0.5]['sentences'] == 1
    only = tool.main([path, '--split', 'testA', '--thresholds', '0.7'])
    assert set(only) == {'testA'}
    assert only['testA'][0.7]['oIoU'] == pytest.approx(100.0)


def test_bad_inputs_name_the_fix(tool, tmp_path, capsys):
    with pytest.raises(SystemExit, match='tools/test.py CONFIG CKPT --out'):
        tool.main([str(tmp_path / 'missing.pkl')])
    with pytest.raises(SystemExit, match='--thresholds 1.5'):
        tool.main([str(tmp_path / 'missing.pkl'), '--thresholds', '1.5'])
    path = str(tmp_path / 'masks_only.pkl')
    with open(path, 'wb') as f:
        pickle.dump([dict(split='val', pred_sem_seg=dict(data=0))], f)
    with pytest.raises(SystemExit, match='no seg_logits'):
        tool.main([path])
    with open(path, 'wb') as f:
        pickle.dump([dumped(np.zeros((2, 2)), np.zeros((2, 2)))], f)
    with pytest.raises(SystemExit, match="no predictions of split 'testB'"):
        tool.main([path, '--split', 'testB'])
