import pytest
import torch
import torch.nn as nn

from mmris.engine.optimizers import CARISOptimWrapperConstructor, caris_group


def test_rules_on_real_parameter_names():
    """The substring rules of spec caris.md section 4 on CARIS names."""
    cases = {
        'backbone.lang_encoder.embeddings.word_embeddings.weight':
        ('text', False),
        'backbone.lang_encoder.encoder.layer.0.output.LayerNorm.weight':
        ('text', False),
        'backbone.lang_encoder.encoder.layer.0.output.dense.bias':
        ('text', True),
        'backbone.vis_encoder.layers.0.blocks.0.norm1.weight':
        ('vision', False),
        'backbone.vis_encoder.norm3.bias': ('vision', False),
        'backbone.vis_encoder.layers.2.blocks.1.attn.'
        'relative_position_bias_table': ('vision', False),
        'backbone.vis_encoder.layers.0.blocks.0.attn.qkv.bias':
        ('vision', True),
        'backbone.vis_encoder.patch_embed.proj.weight': ('vision', True),
        'backbone.conditional_prompts.lang_prompts.weight': ('head', False),
        'backbone.conditional_prompts.lang_prompts_norm.bias':
        ('head', False),
        'backbone.conditional_prompts.in_linears.0.weight': ('head', True),
        'decode_head.vis_prompts.weight': ('head', False),
        'decode_head.encoder.0.v_norm1.weight': ('head', False),
        'decode_head.lang_in_norm.weight': ('head', False),
        # GroupNorm: mmcv names it "gn", so CARIS decays it
        'decode_head.input_convs.0.gn.weight': ('head', True),
        'decode_head.encoder.0.gamma_v2l': ('head', True),
        'decode_head.level_encoding.weight': ('head', True),
        'decode_head.mask_feature.0.bias': ('head', True),
    }
    for name, expected in cases.items():
        assert caris_group(name) == expected, name


class Named(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.lang_encoder = nn.Module()
        self.backbone.lang_encoder.LayerNorm = nn.LayerNorm(2)
        self.backbone.lang_encoder.dense = nn.Linear(2, 2)
        self.backbone.vis_encoder = nn.Module()
        self.backbone.vis_encoder.norm0 = nn.LayerNorm(3)
        self.backbone.vis_encoder.qkv = nn.Linear(3, 3)
        self.decode_head = nn.Module()
        self.decode_head.gn = nn.GroupNorm(1, 4)
        self.decode_head.l_norm1 = nn.LayerNorm(4)
        self.decode_head.frozen = nn.Linear(1, 1)
        self.decode_head.frozen.requires_grad_(False)


def test_six_groups_with_lr_and_decay():
    constructor = CARISOptimWrapperConstructor(
        dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01)))
    wrapper = constructor(Named())
    groups = wrapper.optimizer.param_groups
    got = [(sum(p.numel() for p in g['params']), g['lr'], g['weight_decay'])
           for g in groups]
    assert got == [
        (4, 1e-5, 0.0),  # text LayerNorm
        (6, 1e-5, 0.01),  # text dense
        (6, 1e-5, 0.0),  # vision norm0
        (12, 1e-5, 0.01),  # vision qkv
        (8, 1e-4, 0.0),  # head LayerNorm
        (8, 1e-4, 0.01),  # head GroupNorm (decayed), frozen left out
    ]
    assert wrapper.optimizer.defaults['betas'] == (0.9, 0.999)


def test_vision_lr_mult_overrides_encoder_lr_mult_for_vision_only():
    constructor = CARISOptimWrapperConstructor(
        dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01)),
        paramwise_cfg=dict(encoder_lr_mult=0.1, vision_lr_mult=1.0))
    groups = constructor(Named()).optimizer.param_groups
    # text groups keep 0.1 x lr, vision groups get the full lr, head too
    lrs = [group['lr'] for group in groups]
    assert lrs == pytest.approx([1e-4, 1e-4, 1e-3, 1e-3, 1e-3, 1e-3])


def test_unknown_paramwise_key_is_an_error():
    constructor = CARISOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3)),
        paramwise_cfg=dict(decoder_lr_mult=2.0))
    with pytest.raises(KeyError, match='decoder_lr_mult'):
        constructor(Named())


def _train(fused: bool, steps: int = 5):
    torch.manual_seed(0)
    model = Named()
    constructor = CARISOptimWrapperConstructor(
        dict(
            type='OptimWrapper',
            optimizer=dict(
                type='AdamW', lr=1e-2, weight_decay=0.01, fused=fused),
            clip_grad=dict(max_norm=1.0)))
    wrapper = constructor(model)
    params = [p for p in model.parameters() if p.requires_grad]
    for step in range(steps):
        loss = sum((p * (step + 1)).sin().sum() for p in params)
        wrapper.update_params(loss)
    return wrapper, [p.detach().clone() for p in params]


def test_fused_adamw_keeps_the_groups_and_the_trajectory():
    """``optimizer.fused=True`` (the fused_adamw fast path) reaches the
    plain AdamW's weights over the six CARIS groups."""
    fused, fused_params = _train(fused=True)
    _, plain_params = _train(fused=False)
    assert fused.optimizer.defaults['fused'] is True
    assert len(fused.optimizer.param_groups) == 6
    for a, b in zip(fused_params, plain_params):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
