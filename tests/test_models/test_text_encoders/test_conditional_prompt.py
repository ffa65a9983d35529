"""Tests for ``ConditionalPrompt`` (image-conditioned text prompts)."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmris.models.text_encoders import ConditionalPrompt
from mmris.registry import MODELS


def small_prompt(**kwargs) -> ConditionalPrompt:
    torch.manual_seed(0)
    cfg = dict(in_channels=16, embed_dims=8, prompt_levels=(1, 2))
    cfg.update(kwargs)
    module = ConditionalPrompt(**cfg)
    module.init_weights()
    return module


def mlp(module, index, x):
    """The per-level MLP written out by hand."""
    hidden = F.relu(x @ module.in_linears[index].weight.T +
                    module.in_linears[index].bias)
    return (hidden @ module.out_linears[index].weight.T +
            module.out_linears[index].bias)


def test_caris_names_and_parameter_count():
    module = ConditionalPrompt()
    names = set(module.state_dict())
    assert names == {
        'in_linears.0.weight', 'in_linears.0.bias', 'in_linears.1.weight',
        'in_linears.1.bias', 'out_linears.0.weight', 'out_linears.0.bias',
        'out_linears.1.weight', 'out_linears.1.bias', 'lang_prompts.weight',
        'lang_prompts_norm.weight', 'lang_prompts_norm.bias'
    }
    assert module.lang_prompts.weight.shape == (5, 768)
    assert module.lang_prompts_norm.eps == 1e-5
    assert sum(p.numel() for p in module.parameters()) == 2_760_960


def test_output_shape_at_14_and_15():
    module = ConditionalPrompt()
    module.init_weights()
    assert module(torch.randn(2, 1024, 14, 14)).shape == (2, 5, 768)
    # 480 input: the adaptive 2x2 bins overlap (rows [0, 8) and [7, 15)).
    assert module(torch.randn(1, 1024, 15, 15)).shape == (1, 5, 768)


def test_tokens_by_hand_with_overlapping_bins():
    module = small_prompt()
    feat = torch.randn(2, 16, 15, 15)
    # Level 1: the global mean. Level 2: bins [0, 8) and [7, 15), row-major.
    bins = (slice(0, 8), slice(7, 15))
    cells = [feat.mean((2, 3))] + [
        feat[:, :, rows, cols].mean((2, 3)) for rows in bins for cols in bins
    ]
    tokens = torch.stack(
        [mlp(module, 0, cells[0])] + [mlp(module, 1, c) for c in cells[1:]],
        dim=1)
    expected = F.layer_norm(tokens + module.lang_prompts.weight[None], (8, ),
                            module.lang_prompts_norm.weight,
                            module.lang_prompts_norm.bias, 1e-5)
    with torch.no_grad():
        torch.testing.assert_close(module(feat), expected)


def test_init_weights_keeps_embedding_normal():
    torch.manual_seed(0)
    module = ConditionalPrompt()
    before = module.lang_prompts.weight.detach().clone()
    module.init_weights()
    # The embedding keeps its N(0, 1) construction init.
    torch.testing.assert_close(module.lang_prompts.weight, before)
    assert 0.9 < module.lang_prompts.weight.std().item() < 1.1
    for linear in (*module.in_linears, *module.out_linears):
        assert linear.bias.abs().max().item() == 0
        assert abs(linear.weight.std().item() - 0.02) < 0.002
        assert linear.weight.abs().max().item() <= 2.0
    assert (module.lang_prompts_norm.weight == 1).all()
    assert (module.lang_prompts_norm.bias == 0).all()


def test_init_weights_from_a_parent_module():
    """mmengine's recursive init must reach the override, not the embedding."""
    torch.manual_seed(0)
    parent = BaseModule()
    parent.prompt = MODELS.build(
        dict(type='ConditionalPrompt', in_channels=16, embed_dims=8))
    before = parent.prompt.lang_prompts.weight.detach().clone()
    parent.init_weights()
    assert parent.prompt.is_init
    torch.testing.assert_close(parent.prompt.lang_prompts.weight, before)
    assert parent.prompt.in_linears[0].bias.abs().max().item() == 0


def test_custom_levels_and_bad_input():
    module = small_prompt(prompt_levels=(1, 2, 3))
    assert module.num_prompts == 14
    assert module(torch.randn(1, 16, 7, 7)).shape == (1, 14, 8)
    with pytest.raises(ValueError, match='expects'):
        module(torch.randn(1, 8, 7, 7))
    with pytest.raises(ValueError, match='prompt_levels'):
        ConditionalPrompt(prompt_levels=(0, 2))
