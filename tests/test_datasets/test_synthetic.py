"""Tests of the synthetic shapes referring data set (docs/demo_data.md)."""
import hashlib
import json
import os
import os.path as osp
import pickle

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from mmris.datasets import RefCOCODataset
from mmris.datasets.check import check_data_root
from mmris.datasets.refer import (ReferAnnotations, decode_segmentation,
                                  locate_refer_files)
from mmris.datasets.synthetic import (COLORS, POS_MARGIN, SHAPE_WORDS,
                                      SIZE_RATIO, SPLITS,
                                      generate_shapes_refer, select_objects)
from mmris.testing import REFER_SAMPLE
from mmris.testing.tools import load_script

SMALL = dict(
    seed=3,
    num_train=10,
    num_val=4,
    num_testA=4,
    num_testB=4,
    num_testOcc=4,
    image_size=(112, 128))
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'misc', 'make_demo_data.py')


@pytest.fixture(scope='module')
def shapes_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shapes_a'))
    return root, generate_shapes_refer(root, **SMALL)


def load(root, name):
    path = osp.join(root, 'refer', 'shapes', name)
    if name.endswith('.p'):
        with open(path, 'rb') as f:
            return pickle.load(f)
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def digests(root):
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path,
                                root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def test_same_seed_same_bytes(shapes_root, tmp_path):
    root, summary = shapes_root
    again = generate_shapes_refer(str(tmp_path / 'b'), **SMALL)
    assert again == summary
    first, second = digests(root), digests(str(tmp_path / 'b'))
    assert len(first) == sum(SMALL[f'num_{s}'] for s in SPLITS) + 4
    assert first == second
    other = generate_shapes_refer(
        str(tmp_path / 'c'), **dict(SMALL, seed=4, num_train=2))
    assert other['splits']['train']['images'] == 2
    third = digests(str(tmp_path / 'c'))
    key = osp.join('refer', 'shapes', 'instances.json')
    assert third[key] != first[key]


def test_refer_field_set_matches_the_real_files(shapes_root):
    root, _ = shapes_root
    with open(osp.join(REFER_SAMPLE, 'refcoco', 'refs(unc).p'), 'rb') as f:
        real = pickle.load(f)
    refs = load(root, 'refs(unc).p')
    assert set(refs[0]) == set(real[0])
    assert set(refs[0]['sentences'][0]) == set(real[0]['sentences'][0])
    with open(osp.join(REFER_SAMPLE, 'refcoco', 'instances.json')) as f:
        real_inst = json.load(f)
    inst = load(root, 'instances.json')
    assert set(inst) == set(real_inst)
    assert set(inst['annotations'][0]) == set(real_inst['annotations'][0])
    for ref in refs:
        assert ref['sent_ids'] == [s['sent_id'] for s in ref['sentences']]
        assert 2 <= len(ref['sentences']) <= 3
        for sent in ref['sentences']:
            assert sent['sent'] == sent['sent'].lower()
            assert sent['tokens'] == sent['sent'].split()
            assert sent['raw'].lower().rstrip('.') == sent['sent']
        texts = [s['sent'] for s in ref['sentences']]
        assert len(set(texts)) == len(texts)
    # polygons for unoccluded objects, RLE for partly hidden ones
    kinds = {type(a['segmentation']).__name__ for a in inst['annotations']}
    assert kinds == {'list', 'dict'}


def test_every_split_loads_with_the_counts_reported(shapes_root):
    root, summary = shapes_root
    refs_path, inst_path = locate_refer_files(root, 'refer/', 'shapes', 'unc')
    refer = ReferAnnotations(refs_path, inst_path)
    assert refer.splits == sorted(SPLITS)
    for split in SPLITS:
        counts = summary['splits'][split]
        selected = refer.select(split)
        assert len(selected) == counts['refs']
        assert sum(len(r['sentences']) for r in selected) == \
            counts['sentences']
        assert len({r['image_id'] for r in selected}) == counts['images']
        test = RefCOCODataset(
            data_root=root,
            dataset='shapes',
            split=split,
            test_mode=True,
            check_images=True,
            serialize_data=False)
        assert test.split_by == 'unc'
        assert len(test) == counts['sentences'] == test.num_sentences
        train = RefCOCODataset(
            data_root=root,
            dataset='shapes',
            split_by='unc',
            split=split,
            serialize_data=False)
        assert len(train) == counts['refs']
        info = train.get_data_info(0)
        assert info['dataset_name'] == 'shapes_unc'
        assert info['sentence'] in info['sentences']
        mask = decode_segmentation(info['segmentation'], info['ori_height'],
                                   info['ori_width'])
        assert mask.shape == (112, 128) and mask.sum() > 0
    with pytest.raises(ValueError, match='valid: train, val, testA'):
        RefCOCODataset(data_root=root, dataset='shapes', split='test')
    report = check_data_root(
        root, datasets=['shapes'], decode_masks=True, verify_images=True)
    assert report.ok, report.errors


def test_masks_match_the_drawn_pixels(shapes_root):
    root, _ = shapes_root
    coco = COCO(osp.join(root, 'refer', 'shapes', 'instances.json'))
    scenes = load(root, 'scenes.json')
    assert len(coco.getImgIds()) == len(scenes)
    for scene in scenes:
        img = np.asarray(
            Image.open(osp.join(root, 'train2014', scene['file_name'])),
            dtype=np.int32)
        blocked = np.zeros(img.shape[:2], bool)
        for block in scene['occluders']:
            x, y, w, h = block['box']
            blocked[y:y + h, x:x + w] = True
        union = np.zeros(img.shape[:2], bool)
        for obj in scene['objects']:
            ann = coco.loadAnns(obj['ann_id'])[0]
            mask = coco.annToMask(ann).astype(bool)
            assert ann['category_id'] == \
                list(SHAPE_WORDS).index(obj['shape']) + 1
            assert not (mask & union).any()  # visible regions are disjoint
            union |= mask
            assert mask.sum() == ann['area'] > 0
            assert (mask.sum() < obj['area']) == obj['occluded']
            # pixels away from the edges have the object's colour
            inner = mask.copy()
            for axis in (0, 1):
                for shift in (1, -1):
                    inner &= np.roll(mask, shift, axis=axis)
            inner &= ~blocked
            if inner.sum() < 5:
                continue
            err = np.abs(img[inner] - np.array(COLORS[obj['color']]))
            assert (err.max(axis=1) < 40).mean() > 0.95, scene['file_name']
        # the background is grey-ish: no object colour outside the masks
        outside = ~union & ~blocked
        spread = img[outside].max(axis=1) - img[outside].min(axis=1)
        assert np.percentile(spread, 99) < 60


def _independent_select(rule, objects, side):
    """The rule semantics written out again, to check the generator."""

    def match(o, desc):
        return all(o[k] == v for k, v in desc.items())

    group = [i for i, o in enumerate(objects) if match(o, rule['desc'])]
    if rule['kind'] == 'attr':
        return group
    if rule['kind'] == 'size':
        areas = sorted((objects[i]['area'] for i in group),
                       reverse=rule['order'] == 'max')
        if len(group) < 2:
            return []
        best = [i for i in group if objects[i]['area'] == areas[0]]
        ratio = areas[0] / areas[1] if rule['order'] == 'max' else \
            areas[1] / areas[0]
        return best if ratio >= SIZE_RATIO else group
    if rule['kind'] == 'pos':
        key = 'cx' if rule['axis'] == 'x' else 'cy'
        values = sorted((objects[i][key] for i in group),
                        reverse=rule['order'] == 'max')
        if len(group) < 2:
            return []
        best = [i for i in group if objects[i][key] == values[0]]
        clear = abs(values[0] - values[1]) >= POS_MARGIN * side
        return best if clear else group
    anchors = [o for o in objects if match(o, rule['anchor'])]
    assert len(anchors) == 1
    a = anchors[0]
    key = 'cx' if rule['relation'] in ('left', 'right') else 'cy'
    sign = -1 if rule['relation'] in ('left', 'above') else 1
    hits = [
        i for i in group
        if objects[i] is not a and sign * (objects[i][key] - a[key]) > 0
    ]
    if len(hits) == 1:
        assert sign * (objects[hits[0]][key] - a[key]) > POS_MARGIN * side
    return hits


def test_each_sentence_selects_exactly_its_object(shapes_root):
    root, _ = shapes_root
    scenes = load(root, 'scenes.json')
    refs = {r['ref_id']: r for r in load(root, 'refs(unc).p')}
    kinds_seen = {split: set() for split in SPLITS}
    for scene in scenes:
        objects = scene['objects']
        side = 112
        for scene_ref in scene['refs']:
            ref = refs[scene_ref['ref_id']]
            target = [o['ann_id'] for o in objects].index(ref['ann_id'])
            texts = {s['sent_id']: s['sent'] for s in ref['sentences']}
            for item in scene_ref['sentences']:
                rule = item['rule']
                kinds_seen[scene['split']].add(rule['kind'])
                assert select_objects(rule, objects, side) == [target]
                assert _independent_select(rule, objects, side) == [target]
                # the words name exactly the colours the rule uses
                words = set(texts[item['sent_id']].split())
                named = {c for c in COLORS if c in words}
                used = {
                    rule['desc'].get('color'),
                    rule.get('anchor', {}).get('color')
                } - {None}
                assert named == used, (texts[item['sent_id']], rule)
    assert kinds_seen['testA'] <= {'attr', 'size'}
    assert kinds_seen['testB'] <= {'pos', 'rel'}
    assert kinds_seen['testB']
    assert len(kinds_seen['train']) >= 3


def test_occluded_split_has_blocks_over_the_objects(shapes_root):
    root, _ = shapes_root
    coco = COCO(osp.join(root, 'refer', 'shapes', 'instances.json'))
    for scene in load(root, 'scenes.json'):
        if scene['split'] != 'testOcc':
            assert scene['occluders'] == []
            continue
        assert len(scene['occluders']) == len(scene['objects'])
        img = np.asarray(
            Image.open(osp.join(root, 'train2014', scene['file_name'])),
            dtype=np.int32)
        for obj, block in zip(scene['objects'], scene['occluders']):
            x, y, w, h = block['box']
            mask = coco.annToMask(coco.loadAnns(obj['ann_id'])[0])
            assert mask[y:y + h, x:x + w].any()  # covers the object
            patch = img[y + 1:y + h - 1, x + 1:x + w - 1]
            spread = patch.max(axis=2) - patch.min(axis=2)
            assert np.median(spread) < 25  # grey, not the object's colour


def test_tool_is_idempotent(tmp_path, capsys):
    tool = load_script(TOOL, 'make_demo_data')
    args = [
        str(tmp_path), '--num-train', '2', '--num-val', '1', '--num-testA',
        '1', '--num-testB', '1', '--num-testOcc', '1', '--image-size', '96'
    ]
    summary = tool.main(args)
    out = capsys.readouterr().out
    assert 'testOcc' in out and 'total' in out
    first = digests(str(tmp_path))
    marker = osp.join(str(tmp_path), 'refer', 'shapes', 'summary.json')
    mtime = os.stat(marker).st_mtime_ns
    assert tool.main(args) == summary
    assert 'nothing to do' in capsys.readouterr().out
    assert os.stat(marker).st_mtime_ns == mtime
    # a missing image makes the set incomplete: it is rebuilt
    os.remove(osp.join(str(tmp_path), 'train2014', 'shapes_000001.jpg'))
    tool.main(args)
    assert 'nothing to do' not in capsys.readouterr().out
    assert digests(str(tmp_path)) == first
    # other arguments rebuild, dropping the old images
    tool.main(args[:2] + ['1'] + args[3:])
    assert len(os.listdir(osp.join(str(tmp_path), 'train2014'))) == 5
    tool.main(args[:2] + ['1'] + args[3:] + ['--force'])
    assert 'nothing to do' not in capsys.readouterr().out


def _load_tool():
    return load_script(TOOL, 'make_demo_data')


def test_distinct_colors_and_size_scale(shapes_root, tmp_path):
    """The easier variant: one colour per object, larger objects; the
    sentences still select exactly their object."""
    root = str(tmp_path)
    summary = generate_shapes_refer(
        root, **SMALL, distinct_colors=True, size_scale=1.25)
    assert summary['params']['distinct_colors'] is True
    assert summary['params']['size_scale'] == 1.25
    scenes = load(root, 'scenes.json')
    for scene in scenes:
        colors = [obj['color'] for obj in scene['objects']]
        assert len(colors) == len(set(colors)), scene['file_name']
        for ref in scene['refs']:
            for sent in ref['sentences']:
                chosen = select_objects(sent['rule'], scene['objects'],
                                        min(SMALL['image_size']))
                target = [
                    i for i, obj in enumerate(scene['objects'])
                    if obj['ann_id'] == ref['ann_id']
                ]
                assert chosen == target
    # the same seed with the default palette repeats colours somewhere
    default_scenes = load(shapes_root[0], 'scenes.json')
    assert any(
        len({o['color'] for o in s['objects']}) < len(s['objects'])
        for s in default_scenes)

    def mean_area(scene_list):
        return np.mean([o['area'] for s in scene_list for o in s['objects']])

    # areas grow with the square of the scale (shapes and sizes redrawn)
    ratio = mean_area(scenes) / mean_area(default_scenes)
    assert 1.25**2 * 0.75 < ratio < 1.25**2 * 1.3


def test_easy_options_are_validated(tmp_path):
    with pytest.raises(ValueError, match='distinct_colors'):
        generate_shapes_refer(
            str(tmp_path), **dict(SMALL, num_objects=(2, 7)),
            distinct_colors=True)
    with pytest.raises(ValueError, match='size_scale'):
        generate_shapes_refer(str(tmp_path), **SMALL, size_scale=3.0)


def test_tool_options_and_sets_older_than_them(tmp_path, capsys):
    tool = _load_tool()
    args = [
        str(tmp_path), '--num-train', '2', '--num-val', '1', '--num-testA',
        '1', '--num-testB', '1', '--num-testOcc', '1', '--image-size', '96'
    ]
    tool.main(args)
    capsys.readouterr()
    # a summary written before the options existed lacks their keys: the
    # set still counts as made with the defaults
    marker = osp.join(str(tmp_path), 'refer', 'shapes', 'summary.json')
    with open(marker, encoding='utf-8') as f:
        summary = json.load(f)
    for key in ('distinct_colors', 'size_scale'):
        del summary['params'][key]
    with open(marker, 'w', encoding='utf-8') as f:
        json.dump(summary, f)
    tool.main(args)
    assert 'nothing to do' in capsys.readouterr().out
    easy = tool.main(args + ['--distinct-colors', '--size-scale', '1.2'])
    assert 'nothing to do' not in capsys.readouterr().out
    assert easy['params']['distinct_colors'] is True
    assert easy['params']['size_scale'] == 1.2
