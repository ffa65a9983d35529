"""Tests of the CARIS ``MultiHeadAttention``."""
import pytest
import torch

from mmris.models.layers import MultiHeadAttention


def _pair(**kwargs):
    """A plain and a fused MHA sharing the same weights."""
    torch.manual_seed(0)
    plain = MultiHeadAttention(16, 24, embed_dims=32, num_heads=4, **kwargs)
    fused = MultiHeadAttention(
        16, 24, embed_dims=32, num_heads=4, use_sdpa=True, **kwargs)
    fused.load_state_dict(plain.state_dict())
    return plain.eval(), fused.eval()


def test_parameter_count_default():
    mha = MultiHeadAttention(256, 256, embed_dims=1024, num_heads=8)
    assert sum(p.numel() for p in mha.parameters()) == 1_051_904
    assert mha.scale == pytest.approx(128**-0.5)


def test_sdpa_matches_plain_with_key_mask():
    plain, fused = _pair()
    query, key = torch.randn(3, 5, 16), torch.randn(3, 7, 24)
    mask = torch.zeros(3, 7, dtype=torch.bool)
    mask[0, 4:] = True
    mask[2, ::2] = True
    out = plain(query, key, key, mask)
    assert out.shape == (3, 5, 16)
    torch.testing.assert_close(
        fused(query, key, key, mask), out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        fused(query, key, key), plain(query, key, key), atol=1e-5, rtol=1e-5)


def test_masked_keys_get_zero_weight():
    plain, _ = _pair()
    query, key = torch.randn(2, 5, 16), torch.randn(2, 7, 24)
    mask = torch.zeros(2, 7, dtype=torch.bool)
    mask[0, 3:] = True
    weights = plain.attention_weights(query, key, mask)
    assert weights.shape == (2, 4, 5, 7)
    assert torch.all(weights[0, :, :, 3:] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 5))
    # Changing a masked key's value does not change the output.
    value = key.clone()
    out = plain(query, key, value, mask)
    value[0, 5] += 100.
    torch.testing.assert_close(plain(query, key, value, mask), out)


def test_logits_are_clamped_before_softmax():
    # One head of width 4 with identity q/k projections: logit = q.k / 2.
    mha = MultiHeadAttention(4, 4, embed_dims=4, num_heads=1)
    with torch.no_grad():
        for proj in (mha.q_proj, mha.k_proj):
            proj.weight.copy_(torch.eye(4))
            proj.bias.zero_()
    query = torch.tensor([[[1000., 0., 0., 0.]]])
    # Raw logits 60000, 100000 and 0: both large ones saturate at 50000,
    # so they share the weight instead of the larger taking it all.
    key = torch.tensor([[[120., 0., 0., 0.], [200., 0., 0., 0.],
                         [0., 0., 0., 0.]]])
    weights = mha.attention_weights(query, key)
    torch.testing.assert_close(weights[0, 0, 0], torch.tensor([.5, .5, 0.]))
    # A masked key stays at zero weight even with a huge logit.
    mask = torch.tensor([[False, True, False]])
    weights = mha.attention_weights(query, key, mask)
    torch.testing.assert_close(weights[0, 0, 0], torch.tensor([1., 0., 0.]))
