"""Bad inputs give a clear error or a documented, defined result.

Each test is one row of the table in docs/robustness.md.
"""
import json
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from mmris.datasets import RefCOCODataset
from mmris.datasets.refer import load_refs
from mmris.datasets.transforms import BertTokenize, LoadRefImage, LoadRefMask
from mmris.testing.tools import MINILM_VOCAB
from mmris.utils import register_all_modules

register_all_modules()  # pipelines name mmris transforms unprefixed


@pytest.fixture
def data_root(sample_data_root, tmp_path):
    """A private copy of the sample data root that a test may damage."""
    root = str(tmp_path / 'root')
    shutil.copytree(sample_data_root, root)
    return root


def _dataset(data_root, **kwargs):
    pipeline = [dict(type='LoadRefImage', **kwargs), dict(type='LoadRefMask')]
    return RefCOCODataset(
        data_root=data_root, split='val', test_mode=True, pipeline=pipeline)


# ---------------------------------------------------------------- files
def test_missing_data_root_lists_the_missing_files(tmp_path):
    root = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError) as info:
        RefCOCODataset(data_root=root)
    message = str(info.value)
    assert 'refs(unc).p' in message and 'instances.json' in message
    assert root in message and 'dataset_prepare.md' in message


@pytest.mark.parametrize('missing', ['refs(unc).p', 'instances.json'])
def test_missing_annotation_file_is_named(data_root, missing):
    os.remove(os.path.join(data_root, 'refer', 'refcoco', missing))
    with pytest.raises(FileNotFoundError, match=missing.replace(
            '(', r'\(').replace(')', r'\)')):
        RefCOCODataset(data_root=data_root)


def test_ref_with_missing_annotation_names_ref_and_file(data_root):
    path = os.path.join(data_root, 'refer', 'refcoco', 'instances.json')
    with open(path) as f:
        instances = json.load(f)
    refs = load_refs(
        os.path.join(data_root, 'refer', 'refcoco', 'refs(unc).p'))
    ref = next(r for r in refs if r['split'] == 'train')
    instances['annotations'] = [
        a for a in instances['annotations'] if a['id'] != ref['ann_id']
    ]
    with open(path, 'w') as f:
        json.dump(instances, f)
    with pytest.raises(KeyError) as info:
        RefCOCODataset(data_root=data_root, split='train')
    message = str(info.value)
    assert f'ref {ref["ref_id"]} points to annotation {ref["ann_id"]}' in \
        message
    assert path in message


# --------------------------------------------------------------- images
def _first_image(data_root):
    folder = os.path.join(data_root, 'train2014')
    return os.path.join(folder, sorted(os.listdir(folder))[0])


@pytest.mark.parametrize('how', ['truncated', 'garbage'])
def test_corrupt_jpeg_at_training_time_names_the_file(data_root, how):
    dataset = _dataset(data_root)
    path = dataset[0]['img_path']
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2] if how == 'truncated' else b'x' * 64)
    with pytest.raises(OSError) as info:
        dataset[0]
    message = str(info.value)
    assert path in message and 'ref_id=' in message
    assert 'corrupt or truncated' in message


def test_corrupt_jpeg_skipped_with_warning_when_opted_in(
        data_root, monkeypatch):
    from mmris.datasets.transforms import loading
    logged = []
    monkeypatch.setattr(loading, 'print_log',
                        lambda msg, **kwargs: logged.append(msg))
    dataset = RefCOCODataset(
        data_root=data_root,
        split='train',
        pipeline=[dict(type='LoadRefImage', ignore_empty=True)])
    # the sample's refs share one image: give item 0 a broken one of its own
    broken = os.path.join(data_root, 'broken.jpg')
    with open(broken, 'wb') as f:
        f.write(b'not a jpeg')
    original = dataset.get_data_info

    def get_data_info(idx):
        info = original(idx)
        if idx == 0:
            info['img_path'] = broken
        return info

    dataset.get_data_info = get_data_info
    item = dataset[0]  # training: mmengine fetches another sample
    assert item['img_path'] != broken
    assert any(broken in msg and 'skipped' in msg for msg in logged)


@pytest.mark.parametrize('mode,pixels,expected', [
    ('L', np.full((10, 12), 100, np.uint8), 100),
    ('RGBA', np.full((10, 12, 4), 100, np.uint8), 100),
    ('I;16', np.full((10, 12), 40000, np.uint16), 40000 >> 8),
])
def test_png_modes_load_as_3_channel_uint8(tmp_path, mode, pixels, expected):
    path = str(tmp_path / 'img.png')
    Image.fromarray(pixels).save(path)
    assert Image.open(path).mode == mode
    img = LoadRefImage()(dict(img_path=path))['img']
    assert img.shape == (10, 12, 3) and img.dtype == np.uint8
    assert (img == expected).all()


# ---------------------------------------------------------------- masks
@pytest.mark.parametrize('segmentation', [[], [[]], [[1, 2, 3, 4]]])
def test_empty_polygon_gives_empty_mask(segmentation):
    results = LoadRefMask()(
        dict(segmentation=segmentation, ori_height=8, ori_width=6, ref_id=7))
    assert results['gt_seg_map'].shape == (8, 6)
    assert results['gt_seg_map'].sum() == 0
    with pytest.raises(ValueError, match='ref_id=7'):
        LoadRefMask(empty_polygon='error')(
            dict(segmentation=segmentation, ori_height=8, ori_width=6,
                 ref_id=7))


def test_zero_area_mask_gives_a_finite_loss():
    from mmris.models.losses import RISCrossEntropyLoss
    logits = torch.randn(2, 2, 8, 8, requires_grad=True)
    target = torch.zeros(2, 32, 32, dtype=torch.long)  # no referent at all
    loss = RISCrossEntropyLoss()(logits, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


# ---------------------------------------------------------------- text
SENTENCES = {
    'empty': '',
    'whitespace': ' \t\n ',
    'emoji': 'the 🐶 on the left 🙂',
    'cjk': '左边的男人',
    'accents': 'café au lait naïve señor',
    'long': ' '.join(['word'] * 500),
}


@pytest.fixture(scope='module')
def tokenize():
    return BertTokenize(tokenizer=MINILM_VOCAB, max_length=20)


@pytest.mark.parametrize('name', sorted(SENTENCES))
def test_edge_sentences_tokenize_to_valid_ids(tokenize, name):
    results = tokenize(dict(sentence=SENTENCES[name]))
    ids, mask = results['input_ids'], results['attention_mask']
    assert ids.shape == mask.shape == (20, )
    assert ids.dtype == mask.dtype == np.int64
    assert ids[0] == 101
    length = int(mask.sum())
    assert (mask[:length] == 1).all() and (ids[length:] == 0).all()
    if name == 'long':  # the reference's slice: [SEP] is cut off
        assert length == 20 and 102 not in ids
    else:
        assert ids[length - 1] == 102 and list(ids).count(102) == 1
    if name in ('empty', 'whitespace'):
        assert length == 2


def test_long_sentence_keeps_sep_when_asked():
    ids = BertTokenize(tokenizer=MINILM_VOCAB, keep_sep=True)(
        dict(sentence=SENTENCES['long']))['input_ids']
    assert ids[0] == 101 and ids[-1] == 102
