"""Tests for ``SentenceFiLM`` (the demo's sentence-to-vision link)."""
import pytest
import torch

from mmris.models.text_encoders import SentenceFiLM
from mmris.models.text_encoders.sentence_film import masked_mean


def test_masked_mean_ignores_padding():
    tokens = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert masked_mean(tokens, mask).item() == pytest.approx(2.0)


def test_modulation_formula_and_padding_invariance():
    torch.manual_seed(0)
    film = SentenceFiLM(in_channels=(2, 3), text_channels=4)
    for lin in film.linears:
        torch.nn.init.normal_(lin.weight)
        torch.nn.init.normal_(lin.bias)
    feats = (torch.randn(1, 2, 5, 5), torch.randn(1, 3, 2, 2))
    text = torch.randn(1, 3, 4)
    mask = torch.tensor([[1, 1, 0]])
    out = film(feats, text, mask)
    sentence = text[:, :2].mean(1)
    for f, o, lin in zip(feats, out, film.linears):
        gamma, beta = lin(sentence).chunk(2, dim=1)
        expected = f * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
        torch.testing.assert_close(o, expected)
    # a padded position does not change the result
    text2 = text.clone()
    text2[:, 2] = 1e3
    for a, b in zip(out, film(feats, text2, mask)):
        torch.testing.assert_close(a, b)


def test_init_weights_keeps_identity_and_wrong_level_count_is_an_error():
    film = SentenceFiLM(in_channels=(2, ), text_channels=4)
    film.init_weights()
    feat = torch.randn(2, 2, 3, 3)
    (out, ) = film((feat, ), torch.randn(2, 5, 4), torch.ones(2, 5))
    torch.testing.assert_close(out, feat)
    with pytest.raises(ValueError, match='built for 1 maps, got 2'):
        film((feat, feat), torch.randn(2, 5, 4), torch.ones(2, 5))
