"""RISVisualizer: mmseg's GT | prediction drawing plus the sentence."""
import glob
import os.path as osp
import sys

import mmcv
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from mmris.registry import VISUALIZERS
from mmris.testing.tools import SMOKE_CONFIG, data_root_options, run_tool
from mmris.visualization import RISVisualizer
from mmris.visualization.ris_visualizer import (caption_band, resize_sem_seg,
                                                unique_name)

META = dict(
    classes=('background', 'referent'), palette=[[0, 0, 0], [255, 64, 64]])
LONG = ('the small red umbrella held by the man in a grey coat standing '
        'left of the second bus near the corner of the street')


def _sample(size=(60, 80), pred_size=None, sentence='the red circle'):
    """A sample with a GT box, a shifted predicted box and a sentence."""
    height, width = size
    gt = torch.zeros(1, height, width, dtype=torch.long)
    gt[:, 10:40, 10:50] = 1
    ph, pw = pred_size or size
    pred = torch.zeros(1, ph, pw, dtype=torch.long)
    pred[:, ph // 4:ph // 2, pw // 4:pw // 2] = 1
    sample = SegDataSample(metainfo=dict(sentence=sentence, sent_id=7))
    sample.gt_sem_seg = PixelData(data=gt)
    sample.pred_sem_seg = PixelData(data=pred)
    return sample


def _visualizers(tmp_path):
    image = np.random.default_rng(0).integers(
        0, 256, (60, 80, 3), dtype=np.uint8)
    ris = RISVisualizer(
        name=f'ris_{tmp_path.name}',
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path / 'ris'))
    plain = SegLocalVisualizer(name=f'seg_{tmp_path.name}')
    ris.dataset_meta = dict(META)
    plain.dataset_meta = dict(META)
    return image, ris, plain


def test_registered_and_in_default_runtime():
    from mmengine.config import Config
    assert VISUALIZERS.get('RISVisualizer') is RISVisualizer
    cfg = Config.fromfile(SMOKE_CONFIG)
    assert cfg.visualizer.type == 'RISVisualizer'
    assert cfg.visualizer.vis_backends == [dict(type='LocalVisBackend')]


def test_sentence_band_is_added_under_the_mmseg_drawing(tmp_path):
    image, ris, plain = _visualizers(tmp_path)
    sample = _sample()
    plain.add_datasample('x', image, sample, out_file=str(tmp_path / 'a.png'))
    ris.add_datasample('x', image, sample, out_file=str(tmp_path / 'b.png'))
    expected = mmcv.imread(str(tmp_path / 'a.png'))
    drawn = mmcv.imread(str(tmp_path / 'b.png'))
    height, width = expected.shape[:2]
    assert width == 2 * image.shape[1]  # GT | prediction
    assert drawn.shape[1] == width and drawn.shape[0] > height
    # the GT | prediction part is mmseg's drawing, pixel for pixel
    np.testing.assert_array_equal(drawn[:height], expected)
    # the sentence region differs: text pixels on the dark band
    band = drawn[height:]
    assert (band.max(axis=2) > 120).sum() > 10
    assert np.unique(band.reshape(-1, 3), axis=0).shape[0] > 2


def test_long_sentence_is_wrapped_to_the_width():
    short = caption_band('a cat', 160, (60, 80))
    long = caption_band(LONG, 160, (60, 80))
    assert short.shape[1] == long.shape[1] == 160
    assert long.shape[0] >= 3 * short.shape[0] - 10  # several lines
    # text reaches close to the right edge only because it is wrapped
    assert (long[:, -3:].max(axis=2) > 200).sum() == 0


def test_without_sentence_equals_mmseg(tmp_path):
    image, ris, plain = _visualizers(tmp_path)
    sample = _sample(sentence='')
    plain.add_datasample('x', image, sample, out_file=str(tmp_path / 'a.png'))
    ris.add_datasample('x', image, sample, out_file=str(tmp_path / 'b.png'))
    np.testing.assert_array_equal(
        mmcv.imread(str(tmp_path / 'a.png')),
        mmcv.imread(str(tmp_path / 'b.png')))


def test_prediction_at_input_size_is_resized_to_the_image(tmp_path):
    image, ris, _ = _visualizers(tmp_path)
    sample = _sample(pred_size=(32, 32))  # e.g. the 448 reference protocol
    ris.add_datasample('x', image, sample, out_file=str(tmp_path / 'b.png'))
    assert mmcv.imread(str(tmp_path / 'b.png')).shape[1] == 160
    resized = resize_sem_seg(sample.pred_sem_seg, (60, 80)).data
    assert resized.shape == (1, 60, 80)
    assert set(np.unique(resized)) == {0, 1}


def test_backend_names_are_unique_per_sentence(tmp_path):
    image, ris, _ = _visualizers(tmp_path)
    assert unique_name('test_a.jpg', _sample()) == 'test_a_sent7.jpg'
    assert unique_name('test_a.jpg', None) == 'test_a.jpg'
    ris.add_datasample('test_a.jpg', image, _sample())
    files = glob.glob(str(tmp_path / 'ris' / '**' / '*.png'), recursive=True)
    assert [osp.basename(f) for f in files] == ['test_a_sent7.jpg_0.png']


@pytest.mark.timeout(900)
def test_test_tool_show_dir_writes_pictures_with_sentences(
        tmp_path, refer_data_root):
    work_dir = tmp_path / 'run'
    run_tool([
        sys.executable, 'tools/train.py', SMOKE_CONFIG, '--work-dir',
        str(work_dir), '--cfg-options', *data_root_options(refer_data_root),
        'train_cfg.max_epochs=1'
    ])
    show_dir = tmp_path / 'show'
    run_tool([
        sys.executable, 'tools/test.py', SMOKE_CONFIG,
        str(work_dir / 'epoch_1.pth'), '--work-dir',
        str(tmp_path / 'test'), '--show-dir',
        str(show_dir), '--cfg-options', *data_root_options(refer_data_root),
        'default_hooks.visualization.interval=1'
    ])
    pictures = glob.glob(
        str(tmp_path / '**' / 'vis_image' / '*.png'), recursive=True)
    assert pictures, 'tools/test.py --show-dir wrote no picture'
    for path in pictures:
        assert '_sent' in osp.basename(path)
        picture = mmcv.imread(path)
        # a caption band (uniform dark background with bright text) at the
        # bottom: mmseg's drawing alone ends with the image rows
        bottom = picture[-2:].reshape(-1, 3)
        assert np.all(bottom == (32, 32, 32))
