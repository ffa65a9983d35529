"""Tests of the SVLA layer: size, initialisation and masking."""
import math

import torch

from mmris.models.layers import FeedForward, SVLALayer


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_default_parameter_counts():
    layer = SVLALayer()
    assert _count(layer) == 4_416_032
    assert _count(layer.vis_self_attn) == 205_600
    for name in ('v2l_cross_attn', 'l2v_cross_attn', 'lang_self_attn'):
        assert _count(getattr(layer, name)) == 1_051_904
    for name in ('vis_mlp', 'lang_mlp'):
        assert _count(getattr(layer, name)) == 525_568
    assert isinstance(layer.vis_mlp, FeedForward)


def test_initialisation_as_executed_by_caris():
    torch.manual_seed(0)
    layer = SVLALayer()
    # MHA/FFN linears: trunc_normal(std=0.02), zero bias.
    for linear in (layer.v2l_cross_attn.q_proj, layer.lang_mlp.fc1,
                   layer.vis_mlp.fc2, layer.l2v_cross_attn.out_proj):
        assert abs(linear.weight.std().item() - 0.02) < 2e-3
        assert torch.all(linear.bias == 0)
    for norm in (layer.v_norm1, layer.l_norm3):
        assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)
    assert torch.all(layer.gamma_v2l == 1)
    assert layer.gamma_l2v.shape == (1, 1, 256)
    # mmcv MSDA init applied last: zero offsets weight, direction grid.
    msda = layer.vis_self_attn
    assert torch.all(msda.sampling_offsets.weight == 0)
    grid = msda.sampling_offsets.bias.view(8, 3, 4, 2)
    unit = torch.tensor(
        [[1, 0], [1, 1], [0, 1], [-1, 1], [-1, 0], [-1, -1], [0, -1], [1, -1]],
        dtype=torch.float32)
    scale = torch.arange(1, 5, dtype=torch.float32)[:, None]
    for level in range(3):
        torch.testing.assert_close(
            grid[:, level], unit[:, None] * scale, atol=1e-5, rtol=0)
    assert torch.all(msda.attention_weights.weight == 0)
    assert torch.all(msda.attention_weights.bias == 0)
    # xavier_uniform: bound sqrt(6 / (256 + 256)), not std 0.02.
    bound = math.sqrt(6 / 512)
    assert msda.value_proj.weight.abs().max() <= bound
    assert msda.value_proj.weight.std() > 0.05
    assert torch.all(msda.output_proj.bias == 0)


def _small_layer():
    torch.manual_seed(0)
    return SVLALayer(
        embed_dims=32,
        attn_embed_dims=64,
        num_heads=4,
        num_levels=2,
        num_points=2).eval()


def _small_inputs(batch=2):
    shapes = torch.tensor([[2, 2], [4, 4]])
    start = torch.tensor([0, 4])
    vis = torch.randn(batch, 20, 32)
    pos = torch.randn(batch, 20, 32)
    ref = torch.rand(batch, 20, 1, 2).expand(-1, -1, 2, -1)
    lang = torch.randn(batch, 6, 32)
    mask = torch.zeros(batch, 6, dtype=torch.bool)
    mask[0, 2:4] = True  # two padded text tokens in sample 0
    return vis, lang, pos, ref, shapes, start, mask


def test_padded_language_tokens_are_ignored():
    layer = _small_layer()
    vis, lang, pos, ref, shapes, start, mask = _small_inputs()
    with torch.no_grad():
        out_vis, out_lang = layer(vis, lang, pos, ref, shapes, start, mask)
        lang2 = lang.clone()
        lang2[0, 2:4] = torch.randn(2, 32) * 10
        vis2, lang2_out = layer(vis, lang2, pos, ref, shapes, start, mask)
    assert out_vis.shape == vis.shape and out_lang.shape == lang.shape
    torch.testing.assert_close(vis2, out_vis)
    keep = ~mask
    torch.testing.assert_close(lang2_out[keep], out_lang[keep])


def test_sdpa_layer_matches_plain():
    layer = _small_layer()
    fused = SVLALayer(
        embed_dims=32,
        attn_embed_dims=64,
        num_heads=4,
        num_levels=2,
        num_points=2,
        use_sdpa=True).eval()
    fused.load_state_dict(layer.state_dict())
    inputs = _small_inputs()
    with torch.no_grad():
        for a, b in zip(layer(*inputs), fused(*inputs)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
