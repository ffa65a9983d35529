import mmcv
import numpy as np
import pytest
import torch
from mmseg.visualization import SegLocalVisualizer

from mmris.registry import MODELS
from mmris.testing.models import fake_batch, tiny_model_cfg


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return MODELS.build(tiny_model_cfg())


def test_loss_backward_reaches_every_parameter(model):
    model.train()
    data = model.data_preprocessor(fake_batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_ce'} and losses['loss_ce'].item() > 0
    model.zero_grad()
    losses['loss_ce'].backward()
    no_grad = [
        name for name, param in model.named_parameters()
        if param.grad is None or not param.grad.abs().sum() > 0
    ]
    assert no_grad == []


def test_predict_at_input_size_is_the_argmax_of_upsampled_logits(model):
    model.eval()
    data = model.data_preprocessor(fake_batch(size=64), False)
    with torch.no_grad():
        logits = model(**data, mode='tensor')
        results = model(**data, mode='predict')
    assert logits.shape == (2, 2, 16, 16)  # stride 4
    up = torch.nn.functional.interpolate(
        logits, (64, 64), mode='bilinear', align_corners=True)
    for i, result in enumerate(results):
        assert result.seg_logits.data.shape == (2, 64, 64)
        assert result.pred_sem_seg.data.shape == (1, 64, 64)
        # argmax: ties go to the background (channel 0)
        expected = (up[i, 1] > up[i, 0]).long()
        assert torch.equal(result.pred_sem_seg.data[0], expected)


def test_predict_at_original_size():
    torch.manual_seed(0)
    model = MODELS.build(
        tiny_model_cfg(test_cfg=dict(output_size='original'))).eval()
    data = model.data_preprocessor(
        fake_batch(batch_size=1, ori_shape=(50, 90)), False)
    with torch.no_grad():
        (result, ) = model(**data, mode='predict')
    assert result.pred_sem_seg.data.shape == (1, 50, 90)
    with pytest.raises(ValueError, match='output_size'):
        MODELS.build(tiny_model_cfg(test_cfg=dict(output_size='448')))


def test_mask_threshold_keeps_pixels_above_the_referent_probability():
    torch.manual_seed(0)
    model = MODELS.build(
        tiny_model_cfg(test_cfg=dict(mask_threshold=0.75))).eval()
    data = model.data_preprocessor(fake_batch(size=64), False)
    with torch.no_grad():
        results = model(**data, mode='predict')
    fewer = 0
    for result in results:
        prob = result.seg_logits.data.softmax(0)[1]
        mask = result.pred_sem_seg.data[0]
        # equal up to pixels within float rounding of the threshold
        differ = mask != (prob > 0.75).long()
        assert differ.sum() == 0 or (prob[differ] - 0.75).abs().max() < 1e-5
        fewer += int((prob > 0.5).sum() - mask.sum())
    assert fewer > 0  # the threshold dropped pixels the argmax keeps
    assert model.mask_margin == pytest.approx(np.log(3))


@pytest.mark.parametrize('threshold', [0, 1, 1.5, -0.1])
def test_mask_threshold_out_of_range_is_refused(threshold):
    with pytest.raises(ValueError, match='mask_threshold must be in'):
        MODELS.build(tiny_model_cfg(test_cfg=dict(mask_threshold=threshold)))


def test_mask_threshold_that_is_no_number_is_refused():
    with pytest.raises(TypeError, match='mask_threshold must be a number'):
        MODELS.build(tiny_model_cfg(test_cfg=dict(mask_threshold='0.7')))


def test_text_is_required_and_changes_the_prediction(model):
    model.eval()
    data = model.data_preprocessor(fake_batch(batch_size=1), False)
    sample = data['data_samples'][0]
    with torch.no_grad():
        first = model(**data, mode='tensor')
        sample.input_ids = sample.input_ids.flip(0)
        second = model(**data, mode='tensor')
    assert not torch.allclose(first, second)
    del sample.input_ids
    with pytest.raises(KeyError, match='BertTokenize'):
        model(**data, mode='tensor')


def test_mmseg_visualizer_draws_the_prediction(model, tmp_path):
    model.eval()
    data = model.data_preprocessor(fake_batch(batch_size=1), False)
    with torch.no_grad():
        (result, ) = model(**data, mode='predict')
    visualizer = SegLocalVisualizer(
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path),
        name='ris_vis_test')
    visualizer.dataset_meta = dict(
        classes=('background', 'referent'),
        palette=[[0, 0, 0], [255, 0, 0]])
    image = np.zeros((64, 64, 3), np.uint8)
    out_file = str(tmp_path / 'drawn.png')
    visualizer.add_datasample(
        'sample', image, result, draw_gt=True, out_file=out_file)
    drawn = mmcv.imread(out_file)
    assert drawn.shape == (64, 128, 3)  # GT and prediction side by side
    # the predicted referent is painted in the palette colour
    predicted = result.pred_sem_seg.data[0].numpy().astype(bool)
    if predicted.any():
        assert drawn[:, 64:][predicted].any()
