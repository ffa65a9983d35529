"""Tests for ``PixelWordAttention`` (the demo's early fusion)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmris.models.text_encoders import PixelWordAttention


def randomised(fusion: PixelWordAttention) -> PixelWordAttention:
    """Give every weight, the zero-initialised output too, a random value."""
    torch.manual_seed(0)
    for p in fusion.parameters():
        nn.init.normal_(p, std=0.5)
    return fusion


def manual_fusion(stage, x, words, real):
    """The documented formula, one sample, one head, real words only."""
    h = stage.norm(x)
    q = stage.query(h)
    k, v = stage.key_value(words[real]).chunk(2, -1)
    context = torch.softmax(q @ k.T / q.shape[-1]**0.5, -1) @ v
    return x + stage.out(F.gelu(stage.visual(h)) * context)


def test_identity_at_init_and_after_init_weights():
    fusion = PixelWordAttention(in_channels=(4, 8), text_channels=6)
    x = torch.randn(2, 9, 4)
    words, mask = torch.randn(2, 5, 6), torch.ones(2, 5)
    torch.testing.assert_close(fusion(0, x, words, mask), x)
    randomised(fusion).init_weights()
    torch.testing.assert_close(fusion(0, x, words, mask), x)
    assert not torch.equal(fusion.stages[1].query.weight,
                           torch.zeros_like(fusion.stages[1].query.weight))


def test_formula_and_padding_invariance():
    fusion = randomised(
        PixelWordAttention(
            in_channels=(4, ), text_channels=6, embed_dims=8, num_heads=1))
    x, words = torch.randn(1, 9, 4), torch.randn(1, 5, 6)
    mask = torch.tensor([[1, 1, 1, 0, 0]])
    out = fusion(0, x, words, mask)
    expected = manual_fusion(fusion.stages[0], x[0], words[0],
                             mask[0].bool())
    torch.testing.assert_close(out[0], expected)
    padded = words.clone()
    padded[:, 3:] = 1e3  # padding never reaches the pixels
    torch.testing.assert_close(fusion(0, x, padded, mask), out)


def test_each_pixel_depends_on_the_sentence():
    fusion = randomised(PixelWordAttention(in_channels=(4, ), text_channels=6))
    x, mask = torch.randn(1, 9, 4), torch.ones(1, 5)
    a = fusion(0, x, torch.randn(1, 5, 6), mask)
    b = fusion(0, x, torch.randn(1, 5, 6), mask)
    assert ((a - b).abs().amax(-1) > 1e-3).all()


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match='embed_dims=10 is not divisible'):
        PixelWordAttention(
            in_channels=(4, ), text_channels=6, embed_dims=10, num_heads=4)
    fusion = PixelWordAttention(in_channels=(4, ), text_channels=6)
    with pytest.raises(ValueError, match='built for 1 stages, got stage 1'):
        fusion(1, torch.randn(1, 9, 4), torch.randn(1, 5, 6), torch.ones(1, 5))
