"""Tests of the CARIS Swin image encoder and its checkpoint loader."""
import logging
import re

import pytest
import torch
import torch.nn as nn

from mmris.models.backbones import CARISSwinTransformer
from mmris.models.backbones.swin import (unfold_to_official,
                                         load_swin_checkpoint,
                                         official_to_unfold)
from mmris.registry import MODELS

TINY = dict(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))
NORM_KEYS = [f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias')]


@pytest.fixture(autouse=True, scope='module')
def single_thread():
    """One intra-op thread: these small CPU forwards run several times
    faster than with 2 threads on a machine shared by other jobs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_swin(seed=0, **kwargs):
    """Tiny model with random (non-default) weights everywhere, eval mode."""
    torch.manual_seed(seed)
    model = CARISSwinTransformer(**{**TINY, 'drop_path_rate': 0., **kwargs})
    model.init_weights()
    randomize(model, seed)
    return model.eval()


def randomize(model, seed):
    """Perturb every parameter so LNs, biases and bias tables all matter."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if name.endswith('weight') and p.ndim == 1:  # LayerNorm scale
                p.copy_(1. + 0.1 * noise)
            else:
                p.add_(0.05 * noise)


def features(model, x):
    with torch.no_grad():
        return model(x)


def assert_same_features(a, b, atol=0.):
    assert len(a) == len(b)
    for fa, fb in zip(a, b):
        assert fa.shape == fb.shape
        if atol == 0.:
            assert torch.equal(fa, fb)
        else:
            torch.testing.assert_close(fa, fb, atol=atol, rtol=0)


def official_file(model, path, extra_prefix=''):
    """Write ``model`` like the Microsoft release (+ classifier extras)."""
    sd = {
        extra_prefix + k: v.clone()
        for k, v in model.state_dict().items() if k not in NORM_KEYS
    }
    dims = model.num_features[-1]
    sd.update({
        'norm.weight': torch.ones(dims),
        'norm.bias': torch.zeros(dims),
        'head.weight': torch.zeros(10, dims),
        'head.bias': torch.zeros(10),
        'layers.0.blocks.1.attn_mask': torch.zeros(64, 49, 49),
    })
    torch.save({'model': sd}, path)
    return path


# --------------------------------------------------------------------------
# mmseg layout, written here independently of the module's converter
# --------------------------------------------------------------------------
def merge_weight_to_mmseg(t):
    """Spec 3.2: (.., 4C) -> (.., 4, C) -> slots [0,2,1,3] -> (.., C, 4)."""
    c = t.shape[-1] // 4
    t = t.reshape(*t.shape[:-1], 4, c)[..., [0, 2, 1, 3], :]
    return t.transpose(-1, -2).reshape(*t.shape[:-2], 4 * c)


def official_to_mmseg(sd):
    """Official Swin keys -> mmseg ``SwinTransformer`` keys (no index)."""
    out = {}
    for key, value in sd.items():
        if key.endswith('relative_position_index'):
            continue  # mmseg builds its own; compared separately
        if re.search(r'downsample\.(reduction\.weight|norm\.)', key):
            value = merge_weight_to_mmseg(value)
        key = key.replace('layers.', 'stages.',
                          1) if key.startswith('layers.') else key
        key = key.replace('patch_embed.proj.', 'patch_embed.projection.')
        key = key.replace('.attn.', '.attn.w_msa.')
        key = key.replace('mlp.fc1.', 'ffn.layers.0.0.')
        key = key.replace('mlp.fc2.', 'ffn.layers.1.')
        out[key] = value
    return out


def mmseg_swin():
    from mmseg.models.backbones import SwinTransformer
    model = SwinTransformer(
        pretrain_img_size=224,
        embed_dims=TINY['embed_dims'],
        depths=TINY['depths'],
        num_heads=TINY['num_heads'],
        window_size=7,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.)
    model.eval()  # mmseg's train() override returns None
    return model


# --------------------------------------------------------------------------
# 1. Swin-B size and shapes
# --------------------------------------------------------------------------
def test_swin_b_params_and_drop_path():
    model = CARISSwinTransformer()
    assert sum(p.numel() for p in model.parameters()) == 86_745_016
    rates = [
        blk.drop_path.drop_prob for layer in model.layers
        for blk in layer.blocks
    ]
    assert len(rates) == 24
    assert rates == pytest.approx([0.3 * k / 23 for k in range(24)])
    keys = model.state_dict().keys()
    assert 'layers.2.blocks.17.attn.relative_position_index' in keys
    assert 'layers.3.downsample.reduction.weight' not in keys
    assert not any(k.startswith(('norm.', 'head.')) for k in keys)
    assert not any('attn_mask' in k for k in keys)


@pytest.mark.parametrize('size,sides,depths',
                         [(448, (112, 56, 28, 14), (2, 2, 18, 2)),
                          (480, (120, 60, 30, 15), (2, 2, 2, 2))])
def test_swin_b_shapes(size, sides, depths):
    """Full Swin-B at 448; Swin-B widths, 2 blocks a stage at 480 (the
    padding paths do not depend on depth)."""
    model = MODELS.build(dict(type='CARISSwinTransformer', depths=depths))
    outs = features(model.eval(), torch.randn(1, 3, size, size))
    assert [tuple(o.shape) for o in outs] == [(1, 128 * 2**i, s, s)
                                              for i, s in enumerate(sides)]


def test_out_indices_subset():
    model = tiny_swin(out_indices=(1, 3))
    outs = features(model, torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 256]
    assert not hasattr(model, 'norm0')


# --------------------------------------------------------------------------
# 2. official-layout and CARIS checkpoints
# --------------------------------------------------------------------------
def test_load_official_layout(tmp_path):
    src = tiny_swin(seed=1)
    path = official_file(src, str(tmp_path / 'swin_official.pth'))
    model = MODELS.build(
        dict(type='CARISSwinTransformer', **TINY, pretrained=path))
    model.init_weights()  # loads ``pretrained``
    report = load_swin_checkpoint(model, path)
    assert sorted(report['missing']) == sorted(NORM_KEYS)
    assert report['unexpected'] == [] and report['skipped'] == []
    assert sorted(report['ignored']) == [
        'head.bias', 'head.weight', 'layers.0.blocks.1.attn_mask', 'norm.bias',
        'norm.weight'
    ]
    # Output norms are not in the file: copy them, then all must match.
    for i in range(4):
        getattr(model, f'norm{i}').load_state_dict(
            getattr(src, f'norm{i}').state_dict())
    x = torch.randn(2, 3, 64, 80)
    assert_same_features(features(model.eval(), x), features(src, x))


def test_load_caris_full_checkpoint(tmp_path):
    src = tiny_swin(seed=2)
    sd = {
        'module.backbone.vis_encoder.' + k: v
        for k, v in src.state_dict().items()
    }
    sd['module.backbone.lang_encoder.embeddings.weight'] = torch.zeros(3, 4)
    sd['module.pixel_decoder.level_encoding.weight'] = torch.zeros(3, 4)
    path = str(tmp_path / 'caris.pth')
    torch.save({'model': sd, 'optimizer': {}, 'epoch': 3}, path)
    model = tiny_swin(seed=3)
    report = load_swin_checkpoint(model, path)
    assert report['missing'] == [] and report['unexpected'] == []
    assert len(report['loaded']) == len(src.state_dict())
    x = torch.randn(1, 3, 64, 64)
    assert_same_features(features(model, x), features(src, x))


def test_unmatched_keys_reported_by_name(tmp_path, caplog):
    src = tiny_swin(seed=11)
    sd = src.state_dict()
    del sd['layers.1.blocks.0.attn.qkv.bias']
    sd['absolute_pos_embed'] = torch.zeros(1, 4, 32)
    sd['head.weight'] = torch.zeros(10, 256)  # ignored quietly
    path = str(tmp_path / 'partial.pth')
    torch.save(sd, path)  # bare state dict
    logger = logging.getLogger('mmris.test_swin')
    with caplog.at_level(logging.INFO, logger='mmris.test_swin'):
        report = load_swin_checkpoint(tiny_swin(seed=12), path, logger)
    assert report['missing'] == ['layers.1.blocks.0.attn.qkv.bias']
    assert report['unexpected'] == ['absolute_pos_embed']
    assert report['ignored'] == ['head.weight']
    assert 'layers.1.blocks.0.attn.qkv.bias' in caplog.text
    assert 'absolute_pos_embed' in caplog.text
    assert 'head.weight' not in caplog.text


# --------------------------------------------------------------------------
# 3. equivalence with mmseg's SwinTransformer (PatchMerging order)
# --------------------------------------------------------------------------
def test_merge_permutation_inverse():
    w = torch.randn(6, 4 * 5)
    assert torch.equal(official_to_unfold(w), merge_weight_to_mmseg(w))
    assert torch.equal(unfold_to_official(official_to_unfold(w)), w)
    b = torch.randn(4 * 5)
    assert torch.equal(unfold_to_official(merge_weight_to_mmseg(b)), b)


def test_patch_merging_matches_mmseg_unfold():
    from mmseg.models.utils.embed import PatchMerging as MMSegMerging

    from mmris.models.backbones.swin import PatchMerging
    torch.manual_seed(0)
    ours, theirs = PatchMerging(8), MMSegMerging(8, 16)
    randomize(ours, 0)
    theirs.load_state_dict({
        k: merge_weight_to_mmseg(v)
        for k, v in ours.state_dict().items()
    })
    x = torch.randn(2, 7 * 9, 8)  # odd sizes: padded bottom/right
    with torch.no_grad():
        out, hw = ours(x, (7, 9))
        ref, ref_hw = theirs(x, (7, 9))
    assert hw == tuple(ref_hw) == (4, 5)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize('size', [224, 240])
def test_equivalent_to_mmseg_swin(size):
    ours = tiny_swin(seed=4)
    ref = mmseg_swin()
    missing, unexpected = ref.load_state_dict(
        official_to_mmseg(ours.state_dict()), strict=False)
    assert unexpected == []
    assert all(k.endswith('relative_position_index') for k in missing)
    x = torch.randn(2, 3, size, size)
    assert_same_features(features(ours, x), features(ref, x), atol=1e-5)


def test_load_mmseg_layout(tmp_path):
    src = tiny_swin(seed=5)
    ref = mmseg_swin()
    ref.load_state_dict(official_to_mmseg(src.state_dict()), strict=False)
    # An mmseg segmentor checkpoint: 'state_dict' with a 'backbone.' prefix.
    path = str(tmp_path / 'mmseg_swin.pth')
    torch.save(
        {
            'state_dict': {
                'backbone.' + k: v
                for k, v in ref.state_dict().items()
            }
        }, path)
    model = tiny_swin(seed=6)
    report = load_swin_checkpoint(model, path)
    assert report['missing'] == [] and report['unexpected'] == []
    assert report['skipped'] == []
    for key, value in src.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    x = torch.randn(1, 3, 240, 240)
    assert_same_features(features(model, x), features(src, x))


# --------------------------------------------------------------------------
# 4. window 12 from a window-7 checkpoint
# --------------------------------------------------------------------------
def test_window12_from_window7(tmp_path):
    src = tiny_swin(seed=7)
    with torch.no_grad():  # constant table: bicubic resize keeps constant
        src.layers[0].blocks[0].attn.relative_position_bias_table.fill_(0.25)
    path = official_file(src, str(tmp_path / 'swin_w7.pth'))
    model = tiny_swin(seed=8, window_size=12)
    report = load_swin_checkpoint(model, path)
    num_blocks = sum(TINY['depths'])
    assert len(report['resized']) == num_blocks
    assert len(report['skipped']) == num_blocks
    assert all(
        k.endswith('relative_position_index') for k in report['skipped'])
    assert report['unexpected'] == []
    assert sorted(report['missing']) == sorted(NORM_KEYS)
    attn = model.layers[0].blocks[0].attn
    assert attn.relative_position_bias_table.shape == (23 * 23, 1)
    assert attn.relative_position_index.shape == (144, 144)
    torch.testing.assert_close(attn.relative_position_bias_table,
                               torch.full((529, 1), 0.25))
    assert torch.equal(model.layers[1].blocks[0].attn.qkv.weight,
                       src.layers[1].blocks[0].attn.qkv.weight)
    outs = features(model, torch.randn(1, 3, 96, 96))
    assert [o.shape[-1] for o in outs] == [24, 12, 6, 3]
    assert all(torch.isfinite(o).all() for o in outs)


# --------------------------------------------------------------------------
# 5. fast paths
# --------------------------------------------------------------------------
def test_sdpa_matches_plain():
    plain = tiny_swin(seed=9)
    fast = tiny_swin(seed=9, use_sdpa=True)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 120, 100)  # needs window padding and shift masks
    assert_same_features(features(fast, x), features(plain, x), atol=1e-5)


def test_with_cp_same_output_and_grads(monkeypatch):
    import torch.utils.checkpoint as cp
    calls, original = [], cp.checkpoint

    def counting_checkpoint(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(cp, 'checkpoint', counting_checkpoint)
    plain = tiny_swin(seed=10).train()
    ckpt = tiny_swin(seed=10, with_cp=True).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 64, 64)
    grads = []
    for model in (plain, ckpt):
        model.zero_grad()
        outs = model(x)
        sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum()
            for o in outs).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
        grads[-1]['out'] = torch.cat([o.flatten() for o in outs]).detach()
    for name, value in grads[0].items():
        torch.testing.assert_close(grads[1][name], value, atol=1e-6, rtol=0)
    assert len(calls) == sum(TINY['depths'])  # only the with_cp model


# --------------------------------------------------------------------------
# 6. clear errors
# --------------------------------------------------------------------------
def test_wrong_file(tmp_path):
    path = str(tmp_path / 'linear.pth')
    torch.save(nn.Linear(4, 4).state_dict(), path)
    with pytest.raises(ValueError, match='linear.pth.*Swin checkpoint'):
        load_swin_checkpoint(tiny_swin(), path)


def test_missing_file(tmp_path):
    path = str(tmp_path / 'nowhere.pth')
    model = CARISSwinTransformer(**TINY, pretrained=path)
    with pytest.raises(FileNotFoundError, match='nowhere.pth.*pretrained'):
        model.init_weights()


def test_abs_pos_embed_off_by_default_and_resized():
    assert tiny_swin().absolute_pos_embed is None
    model = tiny_swin(seed=3, use_abs_pos_embed=True, pretrain_img_size=64)
    assert model.absolute_pos_embed.shape == (1, 32, 16, 16)
    # The embedding is added per position: a constant image gives
    # different tokens at different places, and other sizes still run.
    x = torch.zeros(1, 3, 64, 64)
    c1 = model(x)[0]
    assert not torch.allclose(c1[..., 0, 0], c1[..., 0, -1])
    without = tiny_swin(seed=3)
    assert torch.allclose(without(x)[0][..., 0, 1], without(x)[0][..., 0, 2])
    shapes = [f.shape[-2:] for f in model(torch.zeros(1, 3, 96, 80))]
    assert shapes[0] == (24, 20)
    grad = torch.autograd.grad(model(x)[0].sum(), model.absolute_pos_embed)
    assert grad[0].abs().sum() > 0


def test_stage_fusion_rewrites_each_stage_before_merging():
    """``stage_fusion(i, tokens)`` sees stage i's tokens after its blocks;
    what it returns is that stage's output and the next stage's input."""
    model = tiny_swin(seed=4)
    x = torch.randn(1, 3, 64, 64)
    seen = []

    def record(i, tokens):
        seen.append((i, tuple(tokens.shape)))
        return tokens

    plain = model(x)
    assert_same_features(model(x, stage_fusion=record), plain, atol=0)
    assert seen == [(0, (1, 256, 32)), (1, (1, 64, 64)), (2, (1, 16, 128)),
                    (3, (1, 4, 256))]

    def zero_stage_one(i, tokens):
        return torch.zeros_like(tokens) if i == 1 else tokens

    fused = model(x, stage_fusion=zero_stage_one)
    torch.testing.assert_close(fused[0], plain[0], rtol=0, atol=0)
    # stage 1's output is its norm of zeros, i.e. the norm's bias
    bias = model.norm1.bias[None, :, None, None].expand_as(fused[1])
    torch.testing.assert_close(fused[1], bias)
    # and the zeros went on into stage 2
    assert not torch.allclose(fused[2], plain[2])


def test_conv_stem_same_grid_and_patch_size_check():
    plain, stem = tiny_swin(), tiny_swin(conv_stem=True)
    x = torch.randn(1, 3, 72, 56)
    assert [f.shape for f in stem(x)] == [f.shape for f in plain(x)]
    names = {k for k in stem.state_dict() if k.startswith('patch_embed.')}
    assert {'patch_embed.proj.0.weight', 'patch_embed.proj.2.weight'} <= names
    # overlapping 3x3 kernels: token (1, 1) (pixels 4-7 for a 4x4 patch
    # conv) also sees pixel row and column 3
    x = torch.zeros(1, 3, 32, 32, requires_grad=True)
    tokens, hw = stem.patch_embed(x)
    tokens[0, hw[1] + 1].sum().backward()
    assert x.grad[0, :, 4:8, 3].abs().sum() > 0
    assert x.grad[0, :, 3, 4:8].abs().sum() > 0
    with pytest.raises(ValueError, match='conv_stem=True needs patch_size=4'):
        CARISSwinTransformer(**TINY, patch_size=2, conv_stem=True)


def stage_reach(model, stage, side):
    """Which tokens of a ``side x side`` map of ``stage`` change when only
    token (0, 0) changes, through that stage's first (unshifted) block."""
    block = model.layers[stage].blocks[0]
    dims = model.num_features[stage]
    x = torch.randn(1, side * side, dims)
    y = x.clone()
    y[0, 0] += 1.
    with torch.no_grad():
        diff = block(y, (side, side), None) - block(x, (side, side), None)
    return diff.abs().sum(-1).view(side, side) > 0


def test_window_size_per_stage():
    model = tiny_swin(window_size=(4, 4, 8, 4))
    assert [layer.window_size for layer in model.layers] == [4, 4, 8, 4]
    bias = model.layers[2].blocks[0].attn.relative_position_bias_table
    assert bias.shape[0] == (2 * 8 - 1)**2
    # a window as large as the 8x8 map of stage 3 makes it global:
    # token (7, 7) sees token (0, 0); with windows of 4 it does not
    assert stage_reach(model, 2, 8)[7, 7]
    assert not stage_reach(tiny_swin(window_size=4), 2, 8)[7, 7]
    x = torch.randn(1, 3, 128, 128)
    assert [f.shape for f in model(x)] == [f.shape for f in tiny_swin()(x)]
    with pytest.raises(ValueError, match='one value per stage'):
        CARISSwinTransformer(**TINY, window_size=(4, 8))


def test_sincos_abs_pos_embed_encodes_row_and_column():
    torch.manual_seed(0)
    model = CARISSwinTransformer(
        **{**TINY, 'drop_path_rate': 0.}, use_abs_pos_embed=True,
        abs_pos_embed_init='sincos', pretrain_img_size=64)
    model.init_weights()
    embed = model.absolute_pos_embed[0]  # [32, 16, 16]
    # first half: a function of the row only; second: of the column only
    rows, cols = embed[:16], embed[16:]
    assert torch.equal(rows[:, :, 0], rows[:, :, 5])
    assert torch.equal(cols[:, 0, :], cols[:, 7, :])
    assert not torch.allclose(rows[:, 0, 0], rows[:, 1, 0])
    assert not torch.allclose(cols[:, 0, 0], cols[:, 0, 1])
    # sin^2 + cos^2 = 1 for each frequency; every position distinct
    assert torch.allclose(rows[:8]**2 + rows[8:]**2, torch.ones(8, 16, 16))
    tokens = embed.flatten(1).t()
    assert torch.cdist(tokens, tokens).add(torch.eye(256)).min() > 1e-3
    assert model.absolute_pos_embed.requires_grad  # still learned


def test_abs_pos_embed_init_rejects_unknown_names():
    with pytest.raises(ValueError, match="abs_pos_embed_init.*'zeros'"):
        CARISSwinTransformer(**TINY, use_abs_pos_embed=True,
                             abs_pos_embed_init='zeros')
    with pytest.raises(ValueError, match='embed_dims divisible by 4.*30'):
        CARISSwinTransformer(**{**TINY, 'embed_dims': 30},
                             use_abs_pos_embed=True,
                             abs_pos_embed_init='sincos')
