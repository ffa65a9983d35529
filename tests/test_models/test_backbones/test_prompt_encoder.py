"""Tests for ``CARISPromptEncoder`` with a tiny stand-in image backbone."""
import torch
from mmengine.model import BaseModule
from torch import nn

from mmris.models.backbones import CARISPromptEncoder
from mmris.registry import MODELS

CHANNELS = (8, 16, 32, 64)
HIDDEN = 32


@MODELS.register_module(name='_TinyFourStageBackbone', force=True)
class TinyFourStageBackbone(BaseModule):
    """Four strided convs giving NCHW maps at strides 4, 8, 16, 32."""

    def __init__(self, channels=CHANNELS):
        super().__init__()
        in_channels = (3, ) + tuple(channels[:-1])
        strides = (4, 2, 2, 2)
        self.stages = nn.ModuleList(
            nn.Conv2d(c_in, c_out, kernel_size=s, stride=s)
            for c_in, c_out, s in zip(in_channels, channels, strides))

    def forward(self, img):
        outs = []
        x = img
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return tuple(outs)


def build_encoder(vis_encoder=dict(type='_TinyFourStageBackbone'),
                  **extra) -> CARISPromptEncoder:
    torch.manual_seed(0)
    encoder = MODELS.build(
        dict(
            **extra,
            type='CARISPromptEncoder',
            vis_encoder=vis_encoder,
            lang_encoder=dict(
                type='BertTextEncoder',
                config=dict(
                    hidden_size=HIDDEN,
                    num_hidden_layers=2,
                    num_attention_heads=2,
                    intermediate_size=64,
                    vocab_size=30522)),
            conditional_prompts=dict(
                type='ConditionalPrompt',
                in_channels=CHANNELS[-1],
                embed_dims=HIDDEN,
                prompt_levels=(1, 2))))
    encoder.init_weights()
    return encoder


def text_batch():
    input_ids = torch.tensor([[101, 1996, 2158, 102, 0],
                              [101, 2187, 3899, 2006, 102]])
    return input_ids, (input_ids != 0).long()


def test_attribute_names_and_state_dict_prefixes():
    encoder = build_encoder()
    assert isinstance(encoder, CARISPromptEncoder)
    prefixes = {key.split('.')[0] for key in encoder.state_dict()}
    assert prefixes == {'vis_encoder', 'lang_encoder', 'conditional_prompts'}
    assert 'lang_encoder.embeddings.word_embeddings.weight' in \
        encoder.state_dict()
    assert 'conditional_prompts.lang_prompts.weight' in encoder.state_dict()


def test_output_shapes():
    encoder = build_encoder().eval()
    input_ids, mask = text_batch()
    with torch.no_grad():
        vis_feats, text_feats = encoder(
            torch.randn(2, 3, 64, 64), input_ids, mask)
    assert isinstance(vis_feats, tuple)
    assert [tuple(f.shape)
            for f in vis_feats] == [(2, 8, 16, 16), (2, 16, 8, 8),
                                    (2, 32, 4, 4), (2, 64, 2, 2)]
    assert text_feats.shape == (2, 5, HIDDEN)


def test_text_matches_manual_composition():
    encoder = build_encoder().eval()
    input_ids, mask = text_batch()
    img = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        _, text_feats = encoder(img, input_ids, mask)
        prompts = encoder.conditional_prompts(encoder.vis_encoder(img)[-1])
        full = encoder.lang_encoder(input_ids, mask, prompts=prompts)
    assert full.shape == (2, 10, HIDDEN)
    torch.testing.assert_close(text_feats, full[:, :5], rtol=0, atol=0)


def test_text_features_depend_on_image():
    encoder = build_encoder().eval()
    # The CARIS init (std 0.02 linears, N(0, 1) embedding) makes the image
    # part of the prompts tiny at first; larger weights make the
    # dependence easy to see without changing what is tested.
    for linear in (*encoder.conditional_prompts.in_linears,
                   *encoder.conditional_prompts.out_linears):
        nn.init.normal_(linear.weight, std=0.5)
    input_ids, mask = text_batch()
    img = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        vis_a, text_a = encoder(img, input_ids, mask)
        _, text_b = encoder(img.flip(-1) * 3 + 1, input_ids, mask)
        _, text_a2 = encoder(img, input_ids, mask)
    torch.testing.assert_close(text_a, text_a2, rtol=0, atol=0)
    # Far above float noise (~1e-7): the image reaches the text features.
    assert (text_a - text_b).abs().max() > 1e-3


def test_gradients_reach_all_parts():
    encoder = build_encoder().train()
    input_ids, mask = text_batch()
    vis_feats, text_feats = encoder(torch.randn(2, 3, 64, 64), input_ids, mask)
    # Only the text features: image gradients must flow through prompts.
    text_feats.sum().backward()
    parts = {
        'vis_encoder':
        encoder.vis_encoder.stages[-1].weight,
        'first_vis_stage':
        encoder.vis_encoder.stages[0].weight,
        'lang_encoder':
        encoder.lang_encoder.encoder.layer[0].attention.self.query.weight,
        'conditional_prompts':
        encoder.conditional_prompts.in_linears[1].weight,
        'lang_prompts':
        encoder.conditional_prompts.lang_prompts.weight,
    }
    for name, param in parts.items():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_sentence_film_starts_as_identity_and_learns():
    """``text_film``: the maps equal the plain encoder's at init, then
    depend on the sentence once the FiLM linears move."""
    film = dict(
        type='SentenceFiLM', in_channels=CHANNELS, text_channels=HIDDEN)
    plain, with_film = build_encoder(), build_encoder(text_film=film)
    # same encoder weights (building the FiLM draws from the RNG)
    missing, unexpected = with_film.load_state_dict(
        plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith('text_film.') for k in missing)
    plain.eval(), with_film.eval()  # no BERT dropout
    img = torch.randn(2, 3, 64, 64)
    input_ids, attention_mask = text_batch()
    ref_feats, ref_text = plain(img, input_ids, attention_mask)
    feats, text = with_film(img, input_ids, attention_mask)
    torch.testing.assert_close(text, ref_text)
    for a, b in zip(feats, ref_feats):
        torch.testing.assert_close(a, b)
    # one gradient step on the modulation makes the maps text-dependent
    sum(f.square().mean() for f in feats).backward()
    grads = [lin.weight.grad for lin in with_film.text_film.linears]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
    with torch.no_grad():
        for lin in with_film.text_film.linears:
            lin.weight.sub_(0.1 * lin.weight.grad)
        moved, _ = with_film(img, input_ids, attention_mask)
        other_ids = input_ids.flip(0)
        swapped, _ = with_film(img, other_ids, (other_ids != 0).long())
    assert not torch.allclose(moved[0], ref_feats[0])
    assert not torch.allclose(moved[0], swapped[0])


# A Swin with the stand-in's channels: early fusion needs a backbone whose
# forward takes ``stage_fusion``.
TINY_SWIN = dict(
    type='CARISSwinTransformer',
    embed_dims=CHANNELS[0],
    depths=(1, 1, 1, 1),
    num_heads=(1, 2, 4, 8),
    window_size=4,
    drop_path_rate=0.)


def test_early_fusion_starts_as_identity_and_uses_unprompted_words():
    fusion = dict(
        type='PixelWordAttention', in_channels=CHANNELS, text_channels=HIDDEN)
    plain = build_encoder(vis_encoder=TINY_SWIN)
    fused = build_encoder(vis_encoder=TINY_SWIN, early_fusion=fusion)
    missing, unexpected = fused.load_state_dict(
        plain.state_dict(), strict=False)
    assert not unexpected
    assert all(k.startswith('early_fusion.') for k in missing)
    plain.eval(), fused.eval()
    img = torch.randn(2, 3, 64, 64)
    input_ids, attention_mask = text_batch()
    ref_feats, ref_text = plain(img, input_ids, attention_mask)
    words = []
    fused.early_fusion.register_forward_hook(
        lambda mod, args, out: words.append(args[2]))
    feats, text = fused(img, input_ids, attention_mask)
    torch.testing.assert_close(text, ref_text)
    for a, b in zip(feats, ref_feats):
        torch.testing.assert_close(a, b)
    # four stage calls, all with the text encoder's output without prompts,
    # computed without gradient
    assert len(words) == 4 and not any(w.requires_grad for w in words)
    unprompted = fused.lang_encoder(input_ids, attention_mask)
    for w in words:
        torch.testing.assert_close(w, unprompted)
    # the zero-initialised output projections get gradients
    fused.train()
    feats, _ = fused(img, input_ids, attention_mask)
    sum(f.square().mean() for f in feats).backward()
    for stage in fused.early_fusion.stages:
        assert stage.out.weight.grad.abs().sum() > 0
