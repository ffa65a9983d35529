"""Tests of PackRISInputs."""
import numpy as np
import pytest
import torch
from mmseg.structures import SegDataSample

from mmris.datasets.transforms import PackRISInputs


def _results(**extra):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(8, 6, 3), dtype=np.uint8)
    mask = (rng.random((8, 6)) > 0.5).astype(np.uint8)
    results = dict(
        img=img,
        gt_seg_map=mask,
        ori_gt_seg_map=np.ones((5, 7), np.uint8),
        input_ids=np.arange(20, dtype=np.int64),
        attention_mask=np.ones(20, np.int64),
        img_path='x.jpg',
        ori_shape=(5, 7),
        img_shape=(8, 6),
        sentence='man on right',
        ref_id=1,
        sent_id=2,
        ann_id=3,
        image_id=4,
        split='val',
        dataset_name='refcoco_unc',
        segmentation=[[0, 0, 1, 1, 2, 2]])
    results.update(extra)
    return results


def test_pack_layout():
    results = _results()
    out = PackRISInputs()(results)
    inputs, sample = out['inputs'], out['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 8, 6)
    torch.testing.assert_close(
        inputs.permute(1, 2, 0), torch.from_numpy(results['img']))
    assert isinstance(sample, SegDataSample)
    gt = sample.gt_sem_seg.data
    assert gt.dtype == torch.int64 and gt.shape == (1, 8, 6)
    assert torch.equal(gt[0], torch.from_numpy(results['gt_seg_map']).long())
    assert sample.input_ids.dtype == torch.int64
    assert sample.input_ids.tolist() == list(range(20))
    assert sample.attention_mask.shape == (20, )
    assert 'ori_gt_sem_seg' not in sample
    assert 'masked_input_ids' not in sample
    meta = sample.metainfo
    for key in ('img_path', 'ori_shape', 'img_shape', 'sentence', 'ref_id',
                'sent_id', 'ann_id', 'image_id', 'split', 'dataset_name'):
        assert meta[key] == results[key]
    assert 'segmentation' not in meta  # polygons are not carried along


def test_original_mask_and_maskris_fields():
    patch = np.zeros((14, 14), np.bool_)
    patch[0, :3] = True
    out = PackRISInputs(keep_ori_mask=True)(
        _results(
            masked_input_ids=np.full(20, 103, np.int64), img_patch_mask=patch))
    sample = out['data_samples']
    assert sample.ori_gt_sem_seg.data.shape == (1, 5, 7)
    assert sample.masked_input_ids.tolist() == [103] * 20
    assert sample.img_patch_mask.dtype == torch.bool
    assert int(sample.img_patch_mask.sum()) == 3
    # the sample moves as a whole (what the data preprocessor relies on)
    moved = sample.to('meta')
    assert moved.input_ids.device.type == 'meta'
    assert moved.ori_gt_sem_seg.data.device.type == 'meta'
    results = _results()
    del results['ori_gt_seg_map']
    with pytest.raises(KeyError, match='LoadRefMask'):
        PackRISInputs(keep_ori_mask=True)(results)
