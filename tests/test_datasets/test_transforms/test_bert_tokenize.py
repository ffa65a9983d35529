"""Tests of BertTokenize (the reference's encode + slice + zero-pad)."""
import pickle

import numpy as np
import pytest
from transformers import AutoTokenizer

from mmris.datasets import RefCOCODataset
from mmris.datasets.transforms import BertTokenize

CLS, SEP = 101, 102


@pytest.fixture(scope='module')
def hf(tokenizer_path):
    return AutoTokenizer.from_pretrained(tokenizer_path)


def reference_encoding(hf, text, length=20):
    """What the CARIS/MaskRIS datasets do, written out step by step."""
    ids = hf(text, add_special_tokens=True)['input_ids'][:length]
    input_ids = np.array(ids + [0] * (length - len(ids)), dtype=np.int64)
    mask = np.array([1] * len(ids) + [0] * (length - len(ids)), dtype=np.int64)
    return input_ids, mask


def test_short_sentence_padded(tokenizer_path, hf):
    out = BertTokenize(tokenizer=tokenizer_path)(dict(sentence='left vase'))
    ids, mask = out['input_ids'], out['attention_mask']
    assert ids.dtype == mask.dtype == np.int64
    assert ids.shape == mask.shape == (20, )
    words = hf.convert_ids_to_tokens(ids[:4].tolist())
    assert words == ['[CLS]', 'left', 'vase', '[SEP]']
    assert (ids[4:] == 0).all() and mask.tolist() == [1] * 4 + [0] * 16


def test_real_sentences_match_the_reference(refer_data_root, tokenizer_path,
                                            hf):
    """Every sentence of the sample, long RefCOCOg ones included."""
    tok = BertTokenize(tokenizer=tokenizer_path)
    truncated = 0
    for dataset, split_by in (('refcoco', 'unc'), ('refcoco+', 'unc'),
                              ('refcocog', 'umd'), ('refcocog', 'google')):
        for text_key in ('sent', 'raw'):
            for split in ('train', 'val'):
                ds = RefCOCODataset(
                    data_root=refer_data_root,
                    dataset=dataset,
                    split_by=split_by,
                    split=split,
                    test_mode=True,
                    text_key=text_key,
                    serialize_data=False)
                for i in range(len(ds)):
                    text = ds.get_data_info(i)['sentence']
                    out = tok(dict(sentence=text))
                    ref_ids, ref_mask = reference_encoding(hf, text)
                    np.testing.assert_array_equal(out['input_ids'], ref_ids)
                    np.testing.assert_array_equal(out['attention_mask'],
                                                  ref_mask)
                    truncated += int(out['attention_mask'].all()
                                     and out['input_ids'][-1] != SEP)
    assert truncated >= 4  # the long RefCOCOg sentences lost their [SEP]


def test_long_refcocog_sentence_loses_sep(tokenizer_path, hf):
    text = ('a white candle - holder with a shape that widens upward , '
            'between a wider holder to its left and one that flares toward '
            'the bottom on its right')
    full = hf(text)['input_ids']
    assert len(full) == 33
    out = BertTokenize(tokenizer=tokenizer_path)(dict(sentence=text))
    assert out['input_ids'].tolist() == full[:20]
    assert SEP not in out['input_ids'] and out['attention_mask'].all()
    kept = BertTokenize(
        tokenizer=tokenizer_path, keep_sep=True)(
            dict(sentence=text))
    assert kept['input_ids'].tolist() == full[:19] + [SEP]
    short = BertTokenize(
        tokenizer=tokenizer_path, max_length=8)(
            dict(sentence=text))
    assert short['input_ids'].tolist() == full[:8]


def test_case_and_punctuation(tokenizer_path):
    tok = BertTokenize(tokenizer=tokenizer_path)
    upper = tok(dict(sentence='RIGHT MOST CUP'))['input_ids']
    lower = tok(dict(sentence='right most cup'))['input_ids']
    np.testing.assert_array_equal(upper, lower)  # uncased vocabulary
    raw = tok(dict(sentence='top sand which 1/2'))['input_ids']
    sent = tok(dict(sentence='top sand which 12'))['input_ids']
    assert raw.tolist() != sent.tolist()  # '/' is its own wordpiece


def test_empty_sentence_and_bad_input(tokenizer_path):
    tok = BertTokenize(tokenizer=tokenizer_path)
    out = tok(dict(sentence=''))
    assert out['input_ids'][:3].tolist() == [CLS, SEP, 0]
    with pytest.raises(KeyError, match='needs "sentence"'):
        tok(dict(ref_id=3))
    with pytest.raises(TypeError, match='must be a str'):
        tok(dict(sentence=['a', 'b']))
    with pytest.raises(ValueError, match='max_length'):
        BertTokenize(max_length=1)


def test_cache_and_pickling(tokenizer_path):
    tok = BertTokenize(tokenizer=tokenizer_path, cache_size=1)
    first = tok(dict(sentence='man on right'))['input_ids']
    first[0] = -1  # the caller owns the returned array
    assert tok(dict(sentence='man on right'))['input_ids'][0] == CLS
    tok(dict(sentence='woman far right'))
    # capped at cache_size, the least recently used sentence evicted
    assert tok.cache.keys() == ['woman far right']
    # data workers receive a copy without the HF tokenizer or cache
    clone = pickle.loads(pickle.dumps(tok))
    assert clone._tokenizer is None and len(clone.cache) == 0
    np.testing.assert_array_equal(
        clone(dict(sentence='man on right'))['input_ids'],
        tok(dict(sentence='man on right'))['input_ids'])


def test_truncation_is_logged_once(tokenizer_path, monkeypatch):
    from mmris.datasets.transforms import text
    logged = []
    monkeypatch.setattr(text, 'print_log', lambda msg, **kw: logged.append(
        (msg, kw)))
    tok = BertTokenize(tokenizer=tokenizer_path, max_length=4)
    tok(dict(sentence='the man on the far right'))
    tok(dict(sentence='the woman on the far left'))
    assert len(logged) == 1
    assert 'dropping [SEP]' in logged[0][0]
    assert logged[0][1]['level'] == 30  # WARNING
