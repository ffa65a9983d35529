"""Per-ref caching of LoadRefMask and BertTokenize: same output, bounded."""
import pickle

import numpy as np
import pytest

from mmris.datasets import RefCOCODataset
from mmris.datasets.transforms import BertTokenize, LoadRefMask
from mmris.datasets.transforms.cache import LRUCache
from mmris.datasets.transforms.loading import pack_mask, unpack_mask

SPLITS = (
    ('refcoco', 'unc', 'train'),
    ('refcoco', 'unc', 'val'),
    ('refcoco+', 'unc', 'val'),
    ('refcocog', 'umd', 'train'),
    ('refcocog', 'google', 'val'),
)


@pytest.fixture(scope='module')
def sample_infos(refer_data_root):
    """Every item of several splits of the sample (real polygons)."""
    infos = []
    for dataset, split_by, split in SPLITS:
        ds = RefCOCODataset(
            data_root=refer_data_root,
            dataset=dataset,
            split_by=split_by,
            split=split,
            test_mode=True,
            serialize_data=False)
        infos += [ds.get_data_info(i) for i in range(len(ds))]
    assert len(infos) >= 10
    return infos


# ----------------------------------------------------------------------
# LRUCache
def test_lru_evicts_the_least_recently_used():
    cache = LRUCache(max_items=2)
    cache.put('a', 1)
    cache.put('b', 2)
    assert cache.get('a') == 1  # 'a' is now the most recent
    cache.put('c', 3)
    assert cache.keys() == ['a', 'c']
    assert cache.get('b') is None
    assert cache.stats() == dict(entries=2, nbytes=0, hits=1, misses=1)


def test_lru_byte_bound():
    cache = LRUCache(max_items=100, max_bytes=10)
    cache.put('a', 'x', nbytes=4)
    cache.put('b', 'y', nbytes=4)
    cache.put('c', 'z', nbytes=4)  # 12 > 10: 'a' goes
    assert cache.keys() == ['b', 'c'] and cache.nbytes == 8
    cache.put('b', 'y2', nbytes=7)  # replacing updates the size: 4 + 7
    assert cache.keys() == ['b'] and cache.nbytes == 7
    cache.put('huge', 'w', nbytes=11)  # never fits: not stored
    assert 'huge' not in cache and cache.keys() == ['b']


def test_lru_disabled_and_pickled():
    off = LRUCache(max_items=0)
    off.put('a', 1)
    assert not off.enabled and len(off) == 0 and off.get('a') is None
    assert off.misses == 0  # a disabled cache counts nothing
    with pytest.raises(ValueError, match='>= 0'):
        LRUCache(max_items=-1)
    cache = LRUCache(max_items=3, max_bytes=100)
    cache.put('a', 1, nbytes=5)
    cache.get('a')
    clone = pickle.loads(pickle.dumps(cache))  # what a worker receives
    assert (clone.max_items, clone.max_bytes) == (3, 100)
    assert clone.stats() == dict(entries=0, nbytes=0, hits=0, misses=0)


# ----------------------------------------------------------------------
# LoadRefMask
def test_pack_mask_round_trip(sample_infos):
    from mmris.datasets.refer import decode_segmentation
    for info in sample_infos:
        mask = decode_segmentation(info['segmentation'], info['ori_height'],
                                   info['ori_width'])
        packed = pack_mask(mask)
        assert packed[2].nbytes * 8 < mask.size  # smaller than 1 byte/px
        rebuilt = unpack_mask(packed)
        assert rebuilt.dtype == mask.dtype and rebuilt.flags.writeable
        np.testing.assert_array_equal(rebuilt, mask)
    empty = np.zeros((5, 7), dtype=np.uint8)
    np.testing.assert_array_equal(unpack_mask(pack_mask(empty)), empty)


def test_cached_masks_equal_uncached(sample_infos):
    """Two epochs through the cache give the arrays of the plain path."""
    plain = LoadRefMask()
    cached = LoadRefMask(cache_mb=16)
    assert not plain.cache.enabled and cached.cache.enabled
    expected = [plain(dict(info))['gt_seg_map'] for info in sample_infos]
    for epoch in range(2):
        for info, want in zip(sample_infos, expected):
            out = cached(dict(info))
            got = out['gt_seg_map']
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
            assert out['ori_gt_seg_map'] is got
            assert out['seg_fields'] == ['gt_seg_map']
    # each object rasterised once, then served from the cache
    objects = {(i['ann_id'], i['img_path']) for i in sample_infos}
    assert cached.cache.misses == len(objects)
    assert cached.cache.hits == 2 * len(sample_infos) - len(objects)
    assert len(cached.cache) == len(objects)
    assert 0 < cached.cache.nbytes <= 16 * 2**20


def test_cached_mask_is_owned_by_the_caller(sample_infos):
    info = sample_infos[0]
    cached = LoadRefMask(cache_mb=1)
    first = cached(dict(info))['gt_seg_map']
    want = first.copy()
    first[:] = 7  # a later transform writing in place
    np.testing.assert_array_equal(cached(dict(info))['gt_seg_map'], want)
    assert cached.cache.hits == 1


def test_mask_cache_is_bounded_and_per_process(sample_infos):
    # a budget of about one entry keeps only the most recent object
    tiny = LoadRefMask(cache_mb=6000 / 2**20)
    for info in sample_infos:
        tiny(dict(info))
    assert len(tiny.cache) <= 1 and tiny.cache.nbytes <= 6000
    clone = pickle.loads(pickle.dumps(tiny))  # a spawned worker's copy
    assert len(clone.cache) == 0 and clone.cache.max_bytes == 6000
    with pytest.raises(ValueError, match='cache_mb'):
        LoadRefMask(cache_mb=-1)


def test_mask_cache_skips_items_without_ann_id(sample_infos):
    info = dict(sample_infos[0])
    del info['ann_id']
    cached = LoadRefMask(cache_mb=1)
    cached(dict(info))
    cached(dict(info))
    assert len(cached.cache) == 0 and cached.cache.hits == 0


def test_empty_polygon_is_cached_as_zeros(sample_infos):
    info = dict(sample_infos[0], segmentation=[[1, 2, 3, 4]])
    cached = LoadRefMask(cache_mb=1)
    first = cached(dict(info))['gt_seg_map']
    second = cached(dict(info))['gt_seg_map']
    assert not first.any() and not second.any()
    assert second.shape == (info['ori_height'], info['ori_width'])
    assert cached.cache.hits == 1


def test_mask_cache_from_config(mmris_scope):
    from mmris.registry import TRANSFORMS
    t = TRANSFORMS.build(dict(type='LoadRefMask', cache_mb=64))
    assert t.cache.max_bytes == 64 * 2**20
    assert 'cache_mb=64' in repr(t)


# ----------------------------------------------------------------------
# BertTokenize
def test_cached_tokens_equal_uncached(sample_infos, tokenizer_path):
    plain = BertTokenize(tokenizer=tokenizer_path)
    cached = BertTokenize(tokenizer=tokenizer_path, cache_size=1000)
    assert not plain.cache.enabled and len(plain.cache) == 0
    sentences = [info['sentence'] for info in sample_infos]
    expected = [plain(dict(sentence=s)) for s in sentences]
    for epoch in range(2):
        for text, want in zip(sentences, expected):
            out = cached(dict(sentence=text))
            for key in ('input_ids', 'attention_mask'):
                assert out[key].dtype == want[key].dtype == np.int64
                np.testing.assert_array_equal(out[key], want[key])
    assert len(plain.cache) == 0  # off by default: nothing stored
    assert cached.cache.misses == len(set(sentences))
    assert cached.cache.hits == 2 * len(sentences) - len(set(sentences))
