"""Tests of RISDataPreprocessor (the reference's normalisation)."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmris.models import RISDataPreprocessor
from mmris.registry import MODELS


def _batch(sizes=((448, 448), (448, 448))):
    gen = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for i, (h, w) in enumerate(sizes):
        inputs.append(
            torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8))
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 2, (1, h, w), generator=gen))
        sample.set_data(
            dict(
                input_ids=torch.arange(20) + i,
                attention_mask=torch.ones(20, dtype=torch.long)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_reference_normalisation(mmris_scope):
    pre = MODELS.build(dict(type='RISDataPreprocessor'))
    assert isinstance(pre, RISDataPreprocessor)
    batch = _batch()
    bgr = torch.stack(batch['inputs']).float()
    for training in (True, False):
        out = pre(_batch(), training=training)
        # ToTensor (/255) then Normalize(ImageNet) on the RGB image
        rgb = bgr[:, [2, 1, 0]] / 255.0
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        torch.testing.assert_close(
            out['inputs'], (rgb - mean) / std, rtol=0, atol=1e-5)
        assert out['inputs'].shape == (2, 3, 448, 448)
        samples = out['data_samples']
        assert samples[1].input_ids.tolist() == list(range(1, 21))
        assert samples[0].gt_sem_seg.data.shape == (1, 448, 448)


def test_samples_follow_the_device():
    pre = RISDataPreprocessor().to('meta')
    out = pre(_batch(), training=True)
    assert out['inputs'].device.type == 'meta'
    sample = out['data_samples'][0]
    assert sample.input_ids.device.type == 'meta'
    assert sample.attention_mask.device.type == 'meta'
    assert sample.gt_sem_seg.data.device.type == 'meta'


def test_sizes():
    with pytest.raises(ValueError, match='different sizes.*Resize'):
        RISDataPreprocessor()(_batch(((448, 448), (440, 448))), True)
    # with size= it pads as mmseg does (mask padded with 255)
    out = RISDataPreprocessor(size=(448, 448))(_batch(
        ((448, 448), (440, 448))), True)
    assert out['inputs'].shape == (2, 3, 448, 448)
    assert (out['data_samples'][1].gt_sem_seg.data[:, 440:] == 255).all()
