"""Tests of the REFER reader and the lazy mask decoding."""
import json
import os.path as osp
import pickle

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmris.datasets.refer import (ReferAnnotations, check_dataset_args,
                                  decode_segmentation, load_instances,
                                  load_refs, locate_refer_files, split_matches,
                                  valid_splits)


def test_dataset_args_and_splits():
    assert check_dataset_args('refcocog', None) == 'umd'
    assert check_dataset_args('refcocom', None) == 'mix'
    assert check_dataset_args('refcoco', 'google') == 'google'
    with pytest.raises(
            ValueError,
            match='valid datasets: refcoco, '
            r'refcoco\+, refcocog, refcocom'):
        check_dataset_args('refclef', None)
    # a user's own REFER-format data set: split_by given, splits from file
    assert check_dataset_args('mydata', 'unc') == 'unc'
    assert valid_splits('mydata', 'unc') == ()
    with pytest.raises(ValueError, match='valid: unc$'):
        check_dataset_args('refcoco+', 'google')
    assert valid_splits('refcocog', 'google') == ('train', 'val')
    assert valid_splits('refcoco',
                        'unc') == ('train', 'val', 'testA', 'testB', 'test')


@pytest.mark.parametrize('query,ref_split,hit', [('testA', 'testA', True),
                                                 ('testA', 'testB', False),
                                                 ('testA', 'testAB', True),
                                                 ('test', 'testB', True),
                                                 ('test', 'test', True),
                                                 ('train', 'train', True),
                                                 ('val', 'train', False),
                                                 ('val', 'valA', False)])
def test_split_rule(query, ref_split, hit):
    assert split_matches(query, ref_split) is hit


def test_real_files_match_summary(refer_data_root, refer_summary):
    pairs = [('refcoco', 'unc'), ('refcoco', 'google'), ('refcoco+', 'unc'),
             ('refcocog', 'umd'), ('refcocog', 'google')]
    for dataset, split_by in pairs:
        refs_path, inst_path = locate_refer_files(refer_data_root, 'refer/',
                                                  dataset, split_by)
        refer = ReferAnnotations(refs_path, inst_path)
        expected = refer_summary[f'{dataset}/refs({split_by}).p']
        assert len(refer.refs) == expected['refs']
        assert sum(len(r['sentences'])
                   for r in refer.refs) == expected['sentences']
        assert len(refer.imgs) == expected['images']
        assert refer.splits == expected['splits']
        # every ref resolves to its annotation and image
        for ref in refer.refs:
            assert refer.ann_of(ref)['image_id'] == ref['image_id']
            assert refer.img_of(ref)['id'] == ref['image_id']


def test_missing_files_name_paths_and_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        locate_refer_files(str(tmp_path), 'refer/', 'refcocog', 'google')
    msg = str(err.value)
    assert osp.join(str(tmp_path), 'refer/', 'refcocog',
                    'refs(google).p') in msg
    assert 'instances.json' in msg and 'Fix:' in msg
    with pytest.raises(FileNotFoundError) as err:
        locate_refer_files(str(tmp_path), 'refer/', 'refcocom', 'mix')
    msg = str(err.value)
    assert osp.join(str(tmp_path), 'refer/', 'refcocom', 'refs(mix).p') in msg
    assert osp.join(str(tmp_path), 'refcocom', 'refs(mix).p') in msg


def test_corrupt_annotation_files(tmp_path):
    bad_pickle = tmp_path / 'refs(unc).p'
    bad_pickle.write_bytes(b'\x80\x02]q\x00(}q')  # truncated pickle
    with pytest.raises(ValueError, match='truncated or corrupt'):
        load_refs(str(bad_pickle))
    bad_pickle.write_bytes(pickle.dumps([{'ref_id': 1}]))
    with pytest.raises(ValueError, match=r"ref #0 \(ref_id 1\) lacks"):
        load_refs(str(bad_pickle))
    bad_json = tmp_path / 'instances.json'
    bad_json.write_text('{"images": [')
    with pytest.raises(ValueError, match='not valid JSON'):
        load_instances(str(bad_json))
    bad_json.write_text(json.dumps({'images': []}))
    with pytest.raises(ValueError, match='no "annotations"'):
        load_instances(str(bad_json))


def _manual_union(polygons, height, width):
    """Union of the parts, each rasterised on its own."""
    out = np.zeros((height, width), np.uint8)
    for poly in polygons:
        rle = mask_utils.frPyObjects([poly], height, width)
        out |= mask_utils.decode(rle)[..., 0]
    return out


def test_multi_part_polygons_are_merged(refer_data_root):
    refs_path, inst_path = locate_refer_files(refer_data_root, 'refer/',
                                              'refcoco', 'unc')
    with open(inst_path, encoding='utf-8') as f:
        instances = json.load(f)
    sizes = {
        img['id']: (img['height'], img['width'])
        for img in instances['images']
    }
    multi = [a for a in instances['annotations'] if len(a['segmentation']) > 1]
    assert len(multi) == 7  # 4 with three parts, 3 with two in the sample
    for ann in multi:
        height, width = sizes[ann['image_id']]
        mask = decode_segmentation(ann['segmentation'], height, width)
        assert mask.dtype == np.uint8 and mask.shape == (height, width)
        assert set(np.unique(mask)) <= {0, 1}
        np.testing.assert_array_equal(
            mask, _manual_union(ann['segmentation'], height, width))
        # more than any single part: all parts are in
        for poly in ann['segmentation']:
            assert mask.sum() > _manual_union([poly], height, width).sum()
        # close to COCO's recorded area (polygon area, not pixels)
        assert abs(int(mask.sum()) - ann['area']) < 0.1 * ann['area'] + 50


def test_rle_forms_and_degenerate_parts():
    gt = np.zeros((7, 9), np.uint8)
    gt[2:5, 1:8] = 1
    rle = mask_utils.encode(np.asfortranarray(gt))
    np.testing.assert_array_equal(decode_segmentation(rle, 7, 9), gt)
    as_str = dict(size=rle['size'], counts=rle['counts'].decode('ascii'))
    np.testing.assert_array_equal(decode_segmentation(as_str, 7, 9), gt)
    # uncompressed RLE (iscrowd COCO objects): column-major run lengths
    flat = gt.flatten(order='F')
    runs, value, count = [], 0, 0
    for pixel in flat:
        if pixel != value:
            runs.append(count)
            value, count = pixel, 0
        count += 1
    runs.append(count)
    np.testing.assert_array_equal(
        decode_segmentation(dict(size=[7, 9], counts=runs), 7, 9), gt)
    with pytest.raises(ValueError, match='differs from the image size'):
        decode_segmentation(rle, 9, 7)
    # a 2-point part would be read by pycocotools as a box: it is left out
    square = [1, 1, 6, 1, 6, 4, 1, 4]
    np.testing.assert_array_equal(
        decode_segmentation([[0, 0, 8, 6], square], 7, 9),
        decode_segmentation([square], 7, 9))
    with pytest.raises(ValueError, match='no polygon with >= 3 points'):
        decode_segmentation([[0, 0, 8, 6]], 7, 9)
    with pytest.raises(ValueError, match='list of polygons or an RLE'):
        decode_segmentation('polygon', 7, 9)
