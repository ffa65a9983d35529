"""Tests of RefCOCODataset on the real REFER sample (blank images)."""
import os
import os.path as osp
import pickle
import shutil
from collections import Counter

import pytest

from mmris.datasets import RefCOCODataset
from mmris.datasets.refer import split_matches
from mmris.registry import DATASETS

PAIRS = [('refcoco', 'unc'), ('refcoco', 'google'), ('refcoco+', 'unc'),
         ('refcocog', 'umd'), ('refcocog', 'google')]


def build(root, **kwargs):
    # serialize_data=False: mmengine's serialisation runs a full gc per
    # dataset, which is slow in a big test process and not what is tested.
    kwargs.setdefault('serialize_data', False)
    return RefCOCODataset(data_root=root, **kwargs)


def source_counts(root, dataset, split_by, split):
    """(refs, sentences) of a split, straight from the pickle."""
    path = osp.join(root, 'refer', dataset, f'refs({split_by}).p')
    with open(path, 'rb') as f:
        refs = [r for r in pickle.load(f) if split_matches(split, r['split'])]
    return len(refs), sum(len(r['sentences']) for r in refs)


@pytest.mark.parametrize('dataset,split_by', PAIRS)
def test_counts_of_every_split_match_the_source(refer_data_root, refer_summary,
                                                dataset, split_by):
    summary = refer_summary[f'{dataset}/refs({split_by}).p']
    total_refs = total_sents = 0
    for split in summary['splits']:
        refs, sents = source_counts(refer_data_root, dataset, split_by, split)
        train = build(
            refer_data_root, dataset=dataset, split_by=split_by, split=split)
        test = build(
            refer_data_root,
            dataset=dataset,
            split_by=split_by,
            split=split,
            test_mode=True)
        assert len(train) == train.num_refs == refs
        assert len(test) == test.num_sentences == sents
        assert train.num_sentences == sents
        total_refs += refs
        total_sents += sents
    # the splits partition the file: totals are summary.json's
    assert (total_refs, total_sents) == (summary['refs'], summary['sentences'])


def test_unc_test_alias_is_testa_plus_testb(refer_data_root):
    both = build(refer_data_root, split='test', test_mode=True)
    parts = [
        build(refer_data_root, split=s, test_mode=True)
        for s in ('testA', 'testB')
    ]
    assert len(both) == sum(len(p) for p in parts) == 12


def test_items_and_metainfo(refer_data_root):
    ds = build(
        refer_data_root, dataset='refcocog', split='val', test_mode=True)
    info = ds.get_data_info(0)
    assert info['img_path'] == osp.join(refer_data_root, 'train2014',
                                        'COCO_train2014_000000510027.jpg')
    ids = (info['ref_id'], info['ann_id'], info['image_id'])
    assert ids == (5771, 2108780, 510027)
    assert (info['sent_id'],
            info['sentence']) == (1975, 'a sweet foo in an orange bowl')
    assert (info['ori_height'], info['ori_width']) == (480, 640)
    assert info['split'] == 'val'
    assert info['dataset_name'] == 'refcocog_umd'
    assert isinstance(info['segmentation'], list)  # not decoded yet
    assert ds.metainfo['dataset_name'] == 'refcocog_umd'
    assert ds.metainfo['classes'] == ('background', 'referent')
    # the same through the registry, serialised as in a real run
    reg = DATASETS.build(
        dict(
            type='RefCOCODataset',
            data_root=refer_data_root,
            dataset='refcocog',
            split='val',
            test_mode=True))
    assert reg.get_data_info(0)['sentence'] == info['sentence']


def test_text_key_quirks(refer_data_root):
    """REFER's `sent` is lower-cased and normalised; `raw` is as typed."""
    sent = build(
        refer_data_root,
        dataset='refcoco',
        split_by='google',
        split='test',
        test_mode=True)
    raw = build(
        refer_data_root,
        dataset='refcoco',
        split_by='google',
        split='test',
        test_mode=True,
        text_key='raw')
    pairs = {
        sent.get_data_info(i)['sentence']: raw.get_data_info(i)['sentence']
        for i in range(len(sent))
    }
    assert pairs['right most cup'] == 'RIGHT MOST CUP'
    assert pairs['right first white pot'] == 'RIGHT FIRST WHITE POT'
    unc = build(refer_data_root, split='testB', test_mode=True)
    unc_raw = build(
        refer_data_root, split='testB', test_mode=True, text_key='raw')
    texts = [unc.get_data_info(i)['sentence'] for i in range(len(unc))]
    raws = [unc_raw.get_data_info(i)['sentence'] for i in range(len(unc))]
    assert 'top sand which 12' in texts and 'top sand which 1/2' in raws
    val = build(refer_data_root, split='val', test_mode=True, text_key='raw')
    assert val.get_data_info(0)['sentence'] == '2nd person from right'
    # both duplicates of a repeated expression are evaluated
    val_sent = [
        build(refer_data_root, split='val',
              test_mode=True).get_data_info(i)['sentence'] for i in range(6)
    ]
    assert Counter(val_sent)['second person from right'] == 2
    with pytest.raises(ValueError, match='text_key'):
        build(refer_data_root, text_key='tokens')


def test_train_draws_a_fresh_sentence_each_fetch(refer_data_root):
    ds = build(refer_data_root, dataset='refcoco', split='train')
    info = ds.get_data_info(0)
    assert info['sentences'] == ['left vase', 'cup on the left', 'bowl']
    drawn = Counter(ds.get_data_info(0)['sentence'] for _ in range(300))
    assert set(drawn) == set(info['sentences'])
    assert min(drawn.values()) > 60  # uniform: 100 expected each
    for _ in range(20):
        info = ds.get_data_info(1)
        assert info['sentence'] == info['sentences'][info['sent_ids'].index(
            info['sent_id'])]


def test_per_sentence_override(refer_data_root):
    ds = build(refer_data_root, split='train', per_sentence=True)
    assert len(ds) == 5 and not ds.test_mode


def test_bad_arguments_list_valid_values(refer_data_root):
    with pytest.raises(ValueError, match='valid datasets'):
        build(refer_data_root, dataset='refcocoz')
    with pytest.raises(ValueError, match='valid: umd, google'):
        build(refer_data_root, dataset='refcocog', split_by='unc')
    with pytest.raises(ValueError, match='valid: train, val$'):
        build(
            refer_data_root,
            dataset='refcocog',
            split_by='google',
            split='test')
    with pytest.raises(
            ValueError, match='valid: train, val, testA, testB, test'):
        build(refer_data_root, split='testC')
    with pytest.raises(ValueError, match='empty_sentence'):
        build(refer_data_root, empty_sentence='drop')


def test_missing_data_path_parts(tmp_path, refer_data_root):
    with pytest.raises(FileNotFoundError, match='refs\\(unc\\).p'):
        build(str(tmp_path / 'nowhere'))
    # annotations present, one image missing: clear error at start-up with
    # check_images, at load time otherwise (see the transform tests)
    root = str(tmp_path / 'root')
    shutil.copytree(refer_data_root, root)
    gone = osp.join(root, 'train2014', 'COCO_train2014_000000572949.jpg')
    os.remove(gone)
    assert len(build(root, split='val')) == 2
    with pytest.raises(
            FileNotFoundError, match='1 of 1 images are missing') as err:
        build(root, split='val', check_images=True)
    assert gone in str(err.value)
    build(root, split='train', check_images=True)  # its image is there


def _with_sentences(src_root, dst_root, texts):
    """Copy the refcoco files and rewrite the first train ref's sentences."""
    src = osp.join(src_root, 'refer', 'refcoco')
    dst = osp.join(dst_root, 'refer', 'refcoco')
    shutil.copytree(src, dst)
    path = osp.join(dst, 'refs(unc).p')
    with open(path, 'rb') as f:
        refs = pickle.load(f)
    ref = next(r for r in refs if r['split'] == 'train')
    ref['sentences'] = [
        dict(ref['sentences'][0], sent=text, raw=text, sent_id=900 + i)
        for i, text in enumerate(texts)
    ]
    with open(path, 'wb') as f:
        pickle.dump(refs, f)
    return dst_root


def test_empty_sentences(tmp_path, refer_data_root):
    root = _with_sentences(refer_data_root, str(tmp_path), ['', ' ', 'cup'])
    ds = build(root, split='train', test_mode=True)  # default 'skip'
    assert len(ds) == 1 + 2  # 1 of the 3 rewritten + the other ref's 2
    texts = [ds.get_data_info(i)['sentence'] for i in range(len(ds))]
    assert 'cup' in texts and '' not in texts and ' ' not in texts
    with pytest.raises(ValueError, match='ref_id=10505 sent_id=900'):
        build(root, split='train', empty_sentence='error')
    kept = build(root, split='train', test_mode=True, empty_sentence='keep')
    assert len(kept) == 3 + 2
    # a ref left without sentences disappears from training
    root2 = _with_sentences(refer_data_root, str(tmp_path / 'b'), ['', ''])
    assert len(build(root2, split='train')) == 1


def test_refcocom_in_both_locations(refcocom_data_root, tmp_path):
    root, counts = refcocom_data_root
    train = build(root, dataset='refcocom', split='train')
    test = build(root, dataset='refcocom', split='train', test_mode=True)
    assert train.split_by == 'mix' and train.dataset_name == 'refcocom_mix'
    assert (len(train), len(test)) == (counts['refs'], counts['sentences'])
    assert len(train) == 2 + 2 + 2
    # the combined pack's splits come from its file
    with pytest.raises(ValueError, match=r"holds the splits \['train'\]"):
        build(root, dataset='refcocom', split='val')
    # DATA_PATH/refcocom (the README's place) works too
    alt = str(tmp_path / 'alt')
    shutil.copytree(osp.join(root, 'train2014'), osp.join(alt, 'train2014'))
    shutil.copytree(
        osp.join(root, 'refer', 'refcocom'), osp.join(alt, 'refcocom'))
    assert len(build(alt, dataset='refcocom')) == counts['refs']


def test_sentence_counts_agree_with_mmdet(refer_data_root):
    """mmdet's RefCocoDataset(text_mode='original') as an oracle."""
    from mmdet.datasets import RefCocoDataset
    for dataset, split_by in PAIRS:
        for split in ('train', 'val'):
            ours = build(
                refer_data_root,
                dataset=dataset,
                split_by=split_by,
                split=split,
                test_mode=True,
                text_key='raw')
            theirs = RefCocoDataset(
                data_root=refer_data_root,
                ann_file=f'refer/{dataset}/instances.json',
                split_file=f'refer/{dataset}/refs({split_by}).p',
                data_prefix=dict(img_path='train2014/'),
                split=split,
                text_mode='original',
                serialize_data=False)
            mine = Counter((ours.get_data_info(i)['img_path'],
                            ours.get_data_info(i)['sentence'].lower())
                           for i in range(len(ours)))
            oracle = Counter((item['img_path'], text)
                             for item in theirs.data_list
                             for text in item['text'])
            assert mine == oracle, (dataset, split_by, split)
