"""shapes_breakdown.py groups predictions on the shapes data by rule."""
import json
import os.path as osp
import pickle

import numpy as np
import pytest

from mmris.datasets.refer import decode_segmentation
from mmris.datasets.synthetic import generate_shapes_refer
from mmris.testing.tools import REPO, load_script

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'shapes_breakdown.py')


@pytest.fixture(scope='module')
def tool():
    return load_script(TOOL, 'shapes_breakdown')


@pytest.fixture(scope='module')
def shapes_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shapes_breakdown'))
    generate_shapes_refer(
        root,
        seed=5,
        num_train=2,
        num_val=12,
        num_testA=1,
        num_testB=1,
        num_testOcc=1,
        distinct_colors=True)
    return root


def colour_matcher_predictions(root):
    """What the demo model does: the right object when the sentence names
    its colour, every object otherwise."""
    folder = osp.join(root, 'refer', 'shapes')
    with open(osp.join(folder, 'scenes.json')) as f:
        scenes = json.load(f)
    with open(osp.join(folder, 'instances.json')) as f:
        inst = json.load(f)
    anns = {a['id']: a for a in inst['annotations']}
    preds = []
    for scene in scenes:
        if scene['split'] != 'val':
            continue
        masks = {
            o['ann_id']: decode_segmentation(
                anns[o['ann_id']]['segmentation'], 128, 128).astype(bool)
            for o in scene['objects']
        }
        every = np.any(list(masks.values()), axis=0)
        for ref in scene['refs']:
            gt = masks[ref['ann_id']]
            for sent in ref['sentences']:
                named = 'color' in sent['rule'].get('desc', {})
                preds.append(
                    dict(
                        split='val',
                        image_id=scene['image_id'],
                        sent_id=sent['sent_id'],
                        gt_sem_seg=dict(data=gt[None].astype(np.uint8)),
                        pred_sem_seg=dict(
                            data=(gt if named else every)[None].astype(
                                np.uint8))))
    return preds


def test_colour_matcher_is_exposed(tool, shapes_root, tmp_path):
    preds = colour_matcher_predictions(shapes_root)
    stats = tool.breakdown(preds, shapes_root, split='val')
    named = [k for k in stats if k.endswith('+colour')]
    unnamed = [k for k in stats if k.endswith('-colour')]
    assert named and unnamed
    for key in named:  # exact masks of one object each
        row = stats[key]
        assert row['oIoU'] == 100 and row['P@0.5'] == 100
        assert row['multi'] == 0
    for key in unnamed:  # every object: never one object alone
        assert stats[key]['multi'] == 100
        assert stats[key]['oIoU'] < 100
    assert stats['val all']['sentences'] == len(preds)
    assert sum(stats[k]['sentences'] for k in named + unnamed) == len(preds)
    path = tmp_path / 'preds.pkl'
    with open(path, 'wb') as f:
        pickle.dump(preds, f)
    tool.main([str(path), '--data-root', shapes_root])
    assert len(tool.format_table(stats).splitlines()) == 2 + len(stats)


def test_clear_errors(tool, shapes_root, tmp_path):
    with pytest.raises(SystemExit, match='not found; write it with'):
        tool.main([str(tmp_path / 'missing.pkl')])
    path = tmp_path / 'preds.pkl'
    preds = colour_matcher_predictions(shapes_root)[:1]
    with open(path, 'wb') as f:
        pickle.dump(preds, f)
    with pytest.raises(SystemExit, match='scenes.json not found'):
        tool.main([str(path), '--data-root', str(tmp_path)])
    with pytest.raises(SystemExit, match="no predictions of split 'testA'"):
        tool.main([str(path), '--data-root', shapes_root, '--split', 'testA'])
    preds[0]['sent_id'] = 10**6
    with open(path, 'wb') as f:
        pickle.dump(preds, f)
    with pytest.raises(SystemExit, match='predictions of another data set'):
        tool.main([str(path), '--data-root', shapes_root])
