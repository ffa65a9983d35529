"""Tests of ``CARISHead``, the CARIS context-aware mask decoder."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmris.models.decode_heads import CARISHead
from mmris.models.decode_heads.caris_head import (reference_points,
                                                  sine_positional_encoding)
from mmris.registry import MODELS

SMALL = dict(
    in_channels=(16, 32, 64, 128),
    channels=64,
    text_channels=32,
    attn_embed_dims=128,
    num_layers=2,
    norm_cfg=dict(type='GN', num_groups=8))


def _feats(side, widths, batch=1):
    """C1..C4 of a ``side`` x ``side`` image (strides 4, 8, 16, 32)."""
    return [
        torch.randn(batch, c, math.ceil(side / s), math.ceil(side / s))
        for c, s in zip(widths, (4, 8, 16, 32))
    ]


def _text(batch, length, channels, num_valid):
    feats = torch.randn(batch, length, channels)
    mask = torch.zeros(batch, length, dtype=torch.long)
    for b, n in enumerate(num_valid):
        mask[b, :n] = 1
    return feats, mask


@pytest.fixture(scope='module')
def default_head():
    torch.manual_seed(0)
    return CARISHead().eval()


@pytest.fixture(scope='module')
def one_layer_head():
    """Default widths with a single SVLA layer: the shapes do not depend
    on the depth, and six layers would triple the test time on CPU."""
    torch.manual_seed(0)
    return CARISHead(num_layers=1).eval()


@pytest.fixture(scope='module')
def small_head():
    torch.manual_seed(0)
    return MODELS.build(dict(type='CARISHead', **SMALL))


def expected_keys():
    """State-dict keys of the original ``pixel_decoder`` (prefix
    stripped), from the spec's name list."""

    def wb(prefix):
        return {f'{prefix}.weight', f'{prefix}.bias'}

    keys = set()
    for i in range(3):
        keys |= wb(f'input_convs.{i}.conv') | wb(f'input_convs.{i}.gn')
    for n in range(6):
        p = f'encoder.{n}'
        for name in ('sampling_offsets', 'attention_weights', 'value_proj',
                     'output_proj'):
            keys |= wb(f'{p}.vis_self_attn.{name}')
        for attn in ('v2l_cross_attn', 'l2v_cross_attn', 'lang_self_attn'):
            for proj in ('q_proj', 'k_proj', 'v_proj', 'out_proj'):
                keys |= wb(f'{p}.{attn}.{proj}')
        for mlp in ('vis_mlp', 'lang_mlp'):
            keys |= wb(f'{p}.{mlp}.fc1') | wb(f'{p}.{mlp}.fc2')
        for norm in ('v_norm1', 'v_norm2', 'v_norm3', 'l_norm1', 'l_norm2',
                     'l_norm3'):
            keys |= wb(f'{p}.{norm}')
        keys |= {f'{p}.gamma_v2l', f'{p}.gamma_l2v'}
    keys |= {'level_encoding.weight', 'vis_prompts.weight'}
    keys |= wb('lang_in_linear') | wb('lang_in_norm')
    keys |= {'lateral_convs.0.conv.weight', 'output_convs.0.conv.weight'}
    keys |= wb('lateral_convs.0.gn') | wb('output_convs.0.gn')
    for i in (0, 2, 4):
        keys |= wb(f'mask_feature.{i}') | wb(f'lang_embed.{i}')
    return keys


def test_parameter_counts(default_head):

    def count(module):
        return sum(p.numel() for p in module.parameters())

    assert count(default_head) == 28_175_040
    for layer in default_head.encoder:
        assert count(layer) == 4_416_032
    assert count(default_head.input_convs) == 461_056
    assert count(default_head.output_convs) == 590_336
    assert count(default_head.lateral_convs) == 33_280


def test_state_dict_names_match_original(default_head):
    state = default_head.state_dict()
    assert set(state) == expected_keys()
    assert [state[f'input_convs.{i}.conv.weight'].shape[1]
            for i in range(3)] == [1024, 512, 256]
    assert state['level_encoding.weight'].shape == (3, 256)
    assert state['vis_prompts.weight'].shape == (5, 256)
    assert state['encoder.0.gamma_v2l'].shape == (1, 1, 256)
    assert state['lang_in_linear.weight'].shape == (256, 768)
    assert state['output_convs.0.conv.weight'].shape == (256, 256, 3, 3)


@pytest.mark.parametrize('side,tokens', [(448, 4116), (480, 4725)])
def test_default_width_shapes(one_layer_head, side, tokens):
    feats = _feats(side, (128, 256, 512, 1024))
    assert [f.shape[-1] for f in feats
            ] == [side // 4, side // 8, side // 16,
                  math.ceil(side / 32)]
    text, mask = _text(1, 20, 768, [7])
    with torch.no_grad():
        logits = one_layer_head(feats, text, mask)
    assert logits.shape == (1, 2, side // 4, side // 4)
    assert one_layer_head.num_encoder_tokens(feats) == tokens
    shapes = one_layer_head.spatial_shapes(feats)
    assert shapes[0] == tuple(feats[3].shape[-2:])  # C4 first
    assert shapes[-1] == tuple(feats[1].shape[-2:])  # C2 last


def test_sine_positional_encoding_by_hand():
    height, width, feats = 2, 3, 128
    pos = sine_positional_encoding(height, width, feats)
    assert pos.shape == (256, 2, 3)
    for i in range(height):
        for j in range(width):
            y_e = (i + 1) / (height + 1e-6) * 2 * math.pi
            x_e = (j + 1) / (width + 1e-6) * 2 * math.pi
            for k in range(feats):
                d_k = 10000**(2 * (k // 2) / feats)
                f = math.sin if k % 2 == 0 else math.cos
                assert pos[k, i, j].item() == pytest.approx(
                    f(y_e / d_k), abs=1e-6)
                assert pos[feats + k, i, j].item() == pytest.approx(
                    f(x_e / d_k), abs=1e-6)


def test_reference_points_by_hand():
    points = reference_points(2, 3)
    expected = torch.tensor([[1 / 6, 1 / 4], [3 / 6, 1 / 4], [5 / 6, 1 / 4],
                             [1 / 6, 3 / 4], [3 / 6, 3 / 4], [5 / 6, 3 / 4]])
    torch.testing.assert_close(points, expected)


def test_flattened_levels(small_head):
    feats = _feats(128, SMALL['in_channels'], batch=2)
    with torch.no_grad():
        vis, pos, ref, shapes, start = small_head._flatten_levels(feats)
    assert shapes.tolist() == [[4, 4], [8, 8], [16, 16]]
    assert start.tolist() == [0, 16, 80]
    assert vis.shape == pos.shape == (2, 336, 64)
    assert ref.shape == (2, 336, 3, 2)
    # The same point on every level.
    assert torch.equal(ref[:, :, 0], ref[:, :, 2])
    torch.testing.assert_close(ref[0, 16:80, 0], reference_points(8, 8))
    # pos = sine + level embedding (level 1 is C3).
    sine = sine_positional_encoding(8, 8, 32).flatten(1).t()
    torch.testing.assert_close(pos[1, 16:80],
                               sine + small_head.level_encoding.weight[1])
    # Level 0 holds the C4 tokens after input_convs[0].
    torch.testing.assert_close(
        vis[:, :16],
        small_head.input_convs[0](feats[3]).flatten(2).transpose(1, 2))


def test_queries_background_then_referent(small_head):
    """Channel 0 is prompts-mean -> lang_embed, channel 1 is [CLS]."""
    torch.manual_seed(1)
    feats = _feats(128, SMALL['in_channels'], batch=2)
    text, mask = _text(2, 6, 32, [6, 3])
    seen = {}
    hooks = [
        small_head.encoder[-1].register_forward_hook(
            lambda m, i, o: seen.update(lang=o[1])),
        small_head.mask_feature.register_forward_hook(
            lambda m, i, o: seen.update(mask=o)),
    ]
    with torch.no_grad():
        logits = small_head(feats, text, mask)
        for hook in hooks:
            hook.remove()
        fg = small_head.lang_embed(seen['lang'][:, 0])
        bg = small_head.lang_embed(seen['lang'][:, 6:].mean(1))
    assert logits.shape == (2, 2, 32, 32)
    torch.testing.assert_close(logits[:, 0],
                               torch.einsum('bc,bchw->bhw', bg, seen['mask']))
    torch.testing.assert_close(logits[:, 1],
                               torch.einsum('bc,bchw->bhw', fg, seen['mask']))
    # Batched forward equals per-sample forward.
    with torch.no_grad():
        single = small_head([f[1:] for f in feats], text[1:], mask[1:])
    torch.testing.assert_close(single, logits[1:], atol=1e-5, rtol=1e-5)


def test_init_weights_keeps_caris_initialisation(small_head):
    state = {k: v.clone() for k, v in small_head.state_dict().items()}

    class Wrapper(BaseModule):

        def __init__(self, head):
            super().__init__()
            self.decode_head = head

    # What a runner does: init_weights on the whole model.
    Wrapper(small_head).init_weights()
    small_head.init_weights()
    for key, value in small_head.state_dict().items():
        assert torch.equal(value, state[key]), key
    # A few of the executed-init facts (spec 3.3).
    assert torch.all(small_head.input_convs[0].conv.bias == 0)
    assert torch.all(small_head.output_convs[0].gn.weight == 1)
    assert torch.all(small_head.encoder[1].gamma_l2v == 1)
    assert torch.all(
        small_head.encoder[0].vis_self_attn.attention_weights.weight == 0)
    # PyTorch defaults (uniform bias), not zeros, for these.
    assert small_head.mask_feature[0].bias.abs().sum() > 0
    assert small_head.lang_in_linear.bias.abs().sum() > 0
    # nn.Embedding default N(0, 1).
    assert small_head.vis_prompts.weight.std() > 0.5


def test_gradient_reaches_every_parameter():
    torch.manual_seed(0)
    head = CARISHead(**SMALL).train()
    feats = _feats(128, SMALL['in_channels'], batch=2)
    text, mask = _text(2, 6, 32, [6, 4])
    head(feats, text, mask).sum().backward()
    for name, param in head.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_sdpa_head_matches_plain(small_head):
    fused = CARISHead(use_sdpa=True, **SMALL).eval()
    fused.load_state_dict(small_head.state_dict())
    feats = _feats(128, SMALL['in_channels'], batch=2)
    text, mask = _text(2, 6, 32, [6, 2])
    with torch.no_grad():
        torch.testing.assert_close(
            fused(feats, text, mask),
            small_head.eval()(feats, text, mask),
            atol=1e-4,
            rtol=1e-4)


def test_forward_under_cpu_autocast(small_head):
    """Mixed precision runs end to end (the MSDA part stays fp32)."""
    feats = _feats(128, SMALL['in_channels'], batch=2)
    text, mask = _text(2, 6, 32, [6, 2])
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        logits = small_head.eval()(feats, text, mask)
    assert logits.shape == (2, 2, 32, 32)
    assert torch.isfinite(logits).all()


def test_head_with_convex_upsampler_starts_bilinear(small_head):
    """``upsample_cfg`` returns logits at the input size; untrained, they
    are the bilinear upsample of the plain head's stride-4 logits."""
    head = CARISHead(
        upsample_cfg=dict(type='ConvexUpsample', scale=4), **SMALL).eval()
    missing, unexpected = head.load_state_dict(
        small_head.state_dict(), strict=False)
    assert unexpected == []
    assert sorted(missing) == ['upsampler.weight_pred.bias',
                               'upsampler.weight_pred.weight']
    feats = _feats(128, SMALL['in_channels'], batch=2)
    text, mask = _text(2, 6, 32, [6, 2])
    with torch.no_grad():
        fine = head(feats, text, mask)
        coarse = small_head.eval()(feats, text, mask)
    assert fine.shape == (2, 2, 128, 128)
    torch.testing.assert_close(
        fine,
        F.interpolate(coarse, scale_factor=4, mode='bilinear'),
        atol=1e-2 * coarse.abs().max().item(),
        rtol=0)
