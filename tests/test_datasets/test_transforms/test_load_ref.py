"""Tests of LoadRefImage, LoadRefMask and the 448x448 resize."""
import shutil

import numpy as np
import pytest
from PIL import Image

from mmris.datasets import RefCOCODataset
from mmris.datasets.transforms import LoadRefImage, LoadRefMask
from mmris.registry import TRANSFORMS


def _image(height=30, width=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def test_pillow_decoding_matches_the_reference(tmp_path):
    """Reference: PIL.Image.open(path).convert('RGB'); ours is its BGR."""
    path = str(tmp_path / 'a.jpg')
    Image.fromarray(_image()).save(path, quality=85)
    ref = np.array(Image.open(path).convert('RGB'))
    out = LoadRefImage()(dict(img_path=path))
    np.testing.assert_array_equal(out['img'], ref[..., ::-1])
    assert out['ori_shape'] == out['img_shape'] == (30, 40)
    # a grey-scale JPEG becomes three equal channels, as convert('RGB')
    gray = str(tmp_path / 'g.jpg')
    Image.fromarray(_image()[..., 0]).save(gray)
    out = LoadRefImage()(dict(img_path=gray))
    np.testing.assert_array_equal(
        out['img'],
        np.array(Image.open(gray).convert('RGB'))[..., ::-1])


def test_exif_orientation_is_ignored(tmp_path):
    """COCO polygons are drawn on the stored pixels, as PIL reads them."""
    path = str(tmp_path / 'rot.jpg')
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(_image(30, 40)).save(path, exif=exif)
    assert LoadRefImage()(dict(img_path=path))['img'].shape == (30, 40, 3)
    # mmcv's default colour flag would rotate it, misaligning the mask
    rotated = TRANSFORMS.build(
        dict(type='LoadImageFromFile', imdecode_backend='pillow'))(
            dict(img_path=path))
    assert rotated['img'].shape == (40, 30, 3)


def test_missing_and_corrupt_images_name_the_file(tmp_path):
    results = dict(img_path=str(tmp_path / 'none.jpg'), ref_id=7, sent_id=8)
    with pytest.raises(
            FileNotFoundError, match='none.jpg.*ref_id=7 '
            'sent_id=8'):
        LoadRefImage()(results)
    corrupt = tmp_path / 'bad.jpg'
    good = tmp_path / 'good.jpg'
    Image.fromarray(_image(64, 64)).save(good)
    corrupt.write_bytes(good.read_bytes()[:300])  # truncated JPEG
    with pytest.raises(
            OSError,
            match='cannot decode image .*bad.jpg.*ref_id'
            '=3.*corrupt or truncated'):
        LoadRefImage()(dict(img_path=str(corrupt), ref_id=3))
    corrupt.write_bytes(b'not a jpeg at all')
    with pytest.raises(OSError, match='cannot decode image'):
        LoadRefImage()(dict(img_path=str(corrupt), ref_id=3))


def _first_item(root, **kwargs):
    ds = RefCOCODataset(
        data_root=root, serialize_data=False, test_mode=True, **kwargs)
    return ds.get_data_info(0)


def test_mask_matches_mmdet_rasterisation(refer_data_root):
    """mmdet's LoadAnnotations(with_mask=True) as an oracle."""
    from mmdet.datasets.transforms import LoadAnnotations
    for dataset, split in (('refcoco', 'testB'), ('refcocog', 'train'),
                           ('refcoco+', 'val')):
        info = _first_item(refer_data_root, dataset=dataset, split=split)
        ours = LoadRefMask()(LoadRefImage()(dict(info)))
        assert ours['gt_seg_map'].dtype == np.uint8
        assert ours['gt_seg_map'].shape == ours['img'].shape[:2]
        assert ours['gt_seg_map'].any()
        assert ours['ori_gt_seg_map'] is ours['gt_seg_map']
        assert ours['seg_fields'] == ['gt_seg_map']
        theirs = LoadAnnotations(
            with_bbox=False, with_label=False, with_mask=True)(
                dict(
                    ori_shape=(info['ori_height'], info['ori_width']),
                    instances=[
                        dict(
                            mask=info['segmentation'],
                            ignore_flag=0,
                            bbox=[0, 0, 1, 1],
                            bbox_label=0)
                    ]))
        np.testing.assert_array_equal(ours['gt_seg_map'],
                                      theirs['gt_masks'].masks[0])


def test_image_of_the_wrong_size_is_refused(refer_data_root, tmp_path):
    info = _first_item(refer_data_root, split='val')
    path = str(tmp_path / 'small.jpg')
    Image.fromarray(_image(100, 120)).save(path)
    info['img_path'] = path
    with pytest.raises(
            ValueError,
            match='is 100x120 .*annotation says '
            '612x612.*ref_id=785'):
        LoadRefMask()(LoadRefImage()(info))


def test_unusable_segmentation_names_the_ref(refer_data_root):
    info = _first_item(refer_data_root, split='val')
    info['segmentation'] = [[1, 2, 3, 4]]
    with pytest.raises(ValueError, match='ref_id=785 ann_id=497043'):
        LoadRefMask(empty_polygon='error')(info)


def test_resize_matches_pil_bilinear_and_nearest(refer_data_root, tmp_path):
    """mmcv Resize(backend='pillow') == torchvision's PIL resize."""
    root = str(tmp_path / 'root')
    shutil.copytree(refer_data_root, root)
    info = _first_item(root, dataset='refcocog', split='train')
    # a textured image, so that interpolation differences would show
    Image.fromarray(_image(427, 640, seed=3)).save(info['img_path'])
    results = LoadRefMask()(LoadRefImage()(info))
    mask_ori = results['gt_seg_map']
    out = TRANSFORMS.build(
        dict(
            type='Resize',
            scale=(448, 448),
            keep_ratio=False,
            backend='pillow'))(
                results)
    rgb = Image.open(info['img_path']).convert('RGB')
    ref_img = np.array(rgb.resize((448, 448), Image.BILINEAR))
    np.testing.assert_array_equal(out['img'], ref_img[..., ::-1])
    ref_mask = np.array(
        Image.fromarray(mask_ori, mode='L').resize((448, 448), Image.NEAREST))
    np.testing.assert_array_equal(out['gt_seg_map'], ref_mask)
    assert out['ori_gt_seg_map'] is mask_ori  # the original stays
    assert out['img_shape'] == (448, 448)
