"""RISInferencer: original-size masks, several sentences, errors, saving."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_utils

from mmris.apis import RISInferencer, mask_to_rle
from mmris.apis.ris_inferencer import (pair_inputs, split_test_pipeline,
                                       upsample_to_mask)
from mmris.testing.inference import (save_random_checkpoint,
                                     write_tiny_ris_config)


@pytest.fixture(scope='module')
def tiny_files(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('tiny_ris'))
    config = write_tiny_ris_config(folder)
    ckpt = save_random_checkpoint(config, osp.join(folder, 'tiny.pth'))
    return config, ckpt


@pytest.fixture(scope='module')
def inferencer(tiny_files):
    config, ckpt = tiny_files
    return RISInferencer(config, weights=ckpt, device='cpu')


def _image(height, width, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels is None else (height, width, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _check_pred(pred, shape):
    assert pred['mask'].shape == shape
    assert pred['mask'].dtype == np.uint8
    assert set(np.unique(pred['mask'])) <= {0, 1}
    assert 0.0 <= pred['score'] <= 1.0


def test_registered():
    from mmris.registry import INFERENCERS
    assert INFERENCERS.get('RISInferencer') is RISInferencer


@pytest.mark.parametrize('height,width,channels', [(480, 640, 3), (8, 8, None),
                                                   (3000, 4000, 4)])
def test_masks_at_original_size(inferencer, height, width, channels):
    image = _image(height, width, channels)
    result = inferencer(image, 'the red circle on the left')
    assert len(result['predictions']) == 1
    pred = result['predictions'][0]
    _check_pred(pred, (height, width))
    assert pred['sentence'] == 'the red circle on the left'
    assert result['visualization'][0].shape == (height, width, 3)


def test_several_sentences_and_overlay(inferencer, tmp_path):
    path = str(tmp_path / 'photo.png')
    image = _image(120, 160)
    cv2.imwrite(path, image)
    sentences = ['the cat', 'the dog on the sofa', 'the lamp']
    result = inferencer(path, sentences, batch_size=2, with_text=False)
    preds = result['predictions']
    assert [p['sentence'] for p in preds] == sentences
    assert [p['sentence_index'] for p in preds] == [0, 1, 2]
    assert {p['image'] for p in preds} == {'photo'}
    overlay = result['visualization'][0]
    union = np.zeros((120, 160), bool)
    for pred in preds:
        _check_pred(pred, (120, 160))
        union |= pred['mask'] > 0
    assert union.any(), 'the random tiny model should predict something'
    changed = (overlay != image).any(axis=2)
    assert changed[union].mean() > 0.99
    # far from every mask (contours excluded) nothing changes
    outside = cv2.dilate(union.astype(np.uint8), np.ones((5, 5))) == 0
    assert not changed[outside].any()


def test_list_of_images(inferencer):
    images = [_image(50, 70), _image(90, 30, seed=1)]
    result = inferencer(images, [['a', 'b'], 'c'])
    preds = result['predictions']
    assert [(p['image_index'], p['sentence']) for p in preds] == [(0, 'a'),
                                                                  (0, 'b'),
                                                                  (1, 'c')]
    _check_pred(preds[2], (90, 30))
    assert len(result['visualization']) == 2


def test_matches_model_original_size(inferencer):
    """The banded upsampling equals the segmentor's output_size='original'."""
    image = _image(97, 131)
    pred = inferencer(image, 'the tall man')['predictions'][0]
    item = dict(
        img=image,
        sentences=['the tall man'],
        image_index=0,
        name='x',
        img_path=None)
    batch = next(inferencer.preprocess([item]))
    model = inferencer.model
    model.test_cfg['output_size'] = 'original'
    try:
        with torch.no_grad():
            sample = model.test_step(batch)[0]
    finally:
        model.test_cfg['output_size'] = 'input'
    expected = sample.pred_sem_seg.data[0].numpy()
    assert expected.shape == pred['mask'].shape
    assert (expected != pred['mask']).mean() < 1e-3


def test_upsample_to_mask_bands():
    torch.manual_seed(0)
    logits = torch.randn(2, 7, 9)
    ref = F.interpolate(
        logits[None], size=(53, 41), mode='bilinear', align_corners=True)[0]
    mask, score = upsample_to_mask(
        logits[1] - logits[0], (53, 41), band_elems=41 * 5)
    expected = ref.argmax(0).numpy()
    assert (mask == expected).mean() > 0.999
    prob = ref.softmax(0)[1].numpy()
    assert score == pytest.approx(prob[mask > 0].mean(), abs=1e-4)


def test_upsample_to_mask_margin():
    torch.manual_seed(1)
    diff = torch.randn(6, 8)
    up = F.interpolate(
        diff[None, None], size=(30, 20), mode='bilinear',
        align_corners=True)[0, 0]
    mask, _ = upsample_to_mask(diff, (30, 20), margin=0.7)
    assert (mask == (up > 0.7).numpy()).mean() > 0.999
    assert mask.sum() < upsample_to_mask(diff, (30, 20))[0].sum()


def test_inferencer_uses_the_model_mask_threshold(inferencer):
    image = _image(40, 56)
    plain = inferencer(image, 'the tall man')['predictions'][0]
    model = inferencer.model
    saved = model.mask_margin
    model.mask_margin = 0.5
    try:
        strict = inferencer(image, 'the tall man')['predictions'][0]
    finally:
        model.mask_margin = saved
    assert strict['mask'].sum() <= plain['mask'].sum()
    assert not np.array_equal(strict['mask'], plain['mask'])


def test_sentence_errors(inferencer):
    with pytest.raises(ValueError, match='sentence 1 of image 0'):
        inferencer(_image(10, 10), ['ok', '   '])
    with pytest.raises(ValueError, match='sentence 0 of image 1'):
        inferencer([_image(10, 10), _image(10, 10)], ['ok', ''])
    with pytest.raises(ValueError, match='2 images but 3'):
        pair_inputs([_image(4, 4), _image(4, 4)], ['a', 'b', 'c'])
    with pytest.raises(TypeError, match='float'):
        inferencer(np.zeros((4, 4, 3), np.float32), 'a')


def test_long_sentence_is_truncated(inferencer):
    sentence = ' '.join(['the small red thing next to the blue one'] * 10)
    pred = inferencer(_image(30, 40), sentence)['predictions'][0]
    _check_pred(pred, (30, 40))


def test_out_dir_and_rle(inferencer, tmp_path):
    image = _image(33, 44)
    result = inferencer([image], ['left', 'right'],
                        out_dir=str(tmp_path / 'out'))
    with open(tmp_path / 'out' / 'predictions.json') as f:
        records = json.load(f)
    assert [r['sentence'] for r in records] == ['left', 'right']
    for record, pred in zip(records, result['predictions']):
        assert record['size'] == [33, 44]
        assert isinstance(record['segmentation']['counts'], str)
        rle = dict(record['segmentation'])
        rle['counts'] = rle['counts'].encode('utf-8')
        np.testing.assert_array_equal(mask_utils.decode(rle), pred['mask'])
        saved = cv2.imread(
            str(tmp_path / 'out' / 'masks' /
                f'image_0_{pred["sentence_index"]}.png'), 0)
        np.testing.assert_array_equal(saved, pred['mask'] * 255)
    assert osp.isfile(tmp_path / 'out' / 'vis' / 'image_0.png')
    assert mask_to_rle(np.zeros((3, 3), np.uint8))['size'] == [3, 3]


def test_return_datasamples(inferencer):
    samples = inferencer(
        _image(20, 25), 'a', return_datasamples=True,
        draw=False)['predictions']
    assert samples[0].pred_sem_seg.data.shape == (1, 20, 25)
    assert samples[0].metainfo['sentence'] == 'a'


def test_split_test_pipeline_drops_loading():
    image_part, text_part = split_test_pipeline([
        dict(type='LoadRefImage'),
        dict(type='mmris.LoadRefMask'),
        dict(type='Resize', scale=(8, 8)),
        dict(type='BertTokenize'),
        dict(type='PackRISInputs', keep_ori_mask=True)
    ])
    assert [t['type'] for t in image_part] == ['Resize']
    assert [t['type'] for t in text_part] == ['BertTokenize', 'PackRISInputs']
    assert text_part[1]['keep_ori_mask'] is False
    with pytest.raises(ValueError, match='BertTokenize'):
        split_test_pipeline([dict(type='Resize')])


def test_maskris_segmentor_and_random_weights_warning(tiny_files):
    """A MaskRIS model infers like CARIS; no checkpoint warns."""
    from mmengine.config import Config
    cfg = Config.fromfile(tiny_files[0])
    cfg.model.type = 'MaskRISSegmentor'
    with pytest.warns(UserWarning, match='random'):
        inferencer = RISInferencer(cfg, device='cpu')
    pred = inferencer(_image(21, 17), 'the dog')['predictions'][0]
    _check_pred(pred, (21, 17))


def test_checkpoint_of_another_model_is_refused(tiny_files, tmp_path):
    """A checkpoint of another architecture is an error naming the file,
    not a silent partial load with meaningless masks."""
    config, ckpt = tiny_files
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    state['state_dict'] = {
        k: (v[:1] if v.ndim else v)
        for k, v in state['state_dict'].items()
    }
    other = str(tmp_path / 'other_model.pth')
    torch.save(state, other)
    with pytest.raises(RuntimeError,
                       match='other_model.pth.*does not match the model'):
        RISInferencer(config, weights=other, device='cpu')
