"""Property tests (hypothesis): BertTokenize and MaskRIS never crash and
always give well-formed ids and masks, for any unicode text and any image
size that is a multiple of the patch size."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmris.datasets.transforms import BertTokenize, MaskRIS
from mmris.datasets.transforms.maskris import BERT_SPECIAL_IDS
from mmris.testing.tools import MINILM_VOCAB

CLS, SEP = 101, 102
MAX_LENGTH = 20
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture])

# Any unicode text (surrogates excluded: not encodable), plus word soups
# that overflow the 20 ids.
TEXTS = st.one_of(
    st.text(max_size=120),
    st.lists(st.sampled_from(['the', 'man', 'left', '🐶', '左', 'café', '']),
             max_size=60).map(' '.join))


@pytest.fixture(scope='module')
def tokenize():
    return BertTokenize(tokenizer=MINILM_VOCAB, max_length=MAX_LENGTH,
                        cache_size=0)


def check_ids(ids, mask):
    """The documented layout: [CLS] first, ones then zeros in the mask,
    zero padding, [SEP] last unless the sentence was cut."""
    assert ids.shape == mask.shape == (MAX_LENGTH, )
    assert ids.dtype == mask.dtype == np.int64
    assert ids[0] == CLS
    length = int(mask.sum())
    assert 2 <= length <= MAX_LENGTH
    assert (mask[:length] == 1).all() and (mask[length:] == 0).all()
    assert (ids[length:] == 0).all()
    if length < MAX_LENGTH:
        assert ids[length - 1] == SEP


@FUZZ
@given(text=TEXTS)
def test_tokenize_any_text(tokenize, text):
    results = tokenize(dict(sentence=text))
    check_ids(results['input_ids'], results['attention_mask'])


@FUZZ
@given(
    text=TEXTS,
    patch=st.sampled_from([8, 16, 32]),
    grid=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    img_ratio=st.floats(0.0, 0.99),
    txt_ratio=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1))
def test_maskris_any_text_and_size(tokenize, text, patch, grid, img_ratio,
                                   txt_ratio, seed):
    height, width = grid[0] * patch, grid[1] * patch
    results = tokenize(
        dict(sentence=text, img=np.zeros((height, width, 3), np.uint8)))
    transform = MaskRIS(
        img_mask_ratio=img_ratio,
        patch_size=patch,
        txt_mask_ratio=txt_ratio,
        seed=seed)
    out = transform(results)
    ids, mask = out['input_ids'], out['attention_mask']
    check_ids(ids, mask)  # the clean ids are left alone

    hidden = out['img_patch_mask']
    assert hidden.dtype == np.bool_ and hidden.shape == grid
    num = grid[0] * grid[1]
    assert hidden.sum() == num - int(num * (1 - img_ratio))

    masked = out['masked_input_ids']
    assert masked.dtype == np.int64 and masked.shape == ids.shape
    keep = np.isin(ids, BERT_SPECIAL_IDS) | (mask == 0)
    assert (masked[keep] == ids[keep]).all()  # specials, padding untouched
    assert ((masked >= 0) & (masked < transform.vocab_size)).all()
