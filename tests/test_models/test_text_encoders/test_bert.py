"""Tests for ``BertTextEncoder`` (BERT with appended prompt tokens)."""
import pytest
import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertModel

from mmris.models.text_encoders import BertTextEncoder
from mmris.models.text_encoders.bert import build_extended_attention_mask
from mmris.registry import MODELS
from mmris.utils.paths import MINILM, resolve_pretrained_path

TINY = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    vocab_size=30522)


def tiny_encoder(**kwargs) -> BertTextEncoder:
    torch.manual_seed(0)
    return BertTextEncoder(config=TINY, **kwargs)


def padded_batch():
    """Two sentences of lengths 6 and 4 padded to 6 (BERT-style ids)."""
    input_ids = torch.tensor([[101, 1037, 2417, 3899, 2006, 102],
                              [101, 2187, 3347, 102, 0, 0]])
    mask = (input_ids != 0).long()
    return input_ids, mask


def test_state_dict_has_only_caris_keys():
    encoder = tiny_encoder()
    keys = list(encoder.state_dict())
    assert all(k.startswith(('embeddings.', 'encoder.layer.')) for k in keys)
    assert [k for k in keys if k.startswith('embeddings.')] == [
        'embeddings.word_embeddings.weight',
        'embeddings.position_embeddings.weight',
        'embeddings.token_type_embeddings.weight',
        'embeddings.LayerNorm.weight', 'embeddings.LayerNorm.bias'
    ]
    # 16 tensors per layer, as in HF 3.0.2 (CARIS checkpoints).
    assert len(keys) == 5 + 16 * TINY['num_hidden_layers']


def test_needs_exactly_one_source():
    with pytest.raises(ValueError, match='exactly one'):
        BertTextEncoder()
    with pytest.raises(ValueError, match='exactly one'):
        BertTextEncoder(pretrained='bert-base-uncased', config=TINY)
    with pytest.raises(ValueError, match='attn_implementation'):
        BertTextEncoder(config=TINY, attn_implementation='flash')


def test_missing_pretrained_folder_names_path_and_key(tmp_path):
    missing = str(tmp_path / 'no_bert_here')
    with pytest.raises(FileNotFoundError) as info:
        BertTextEncoder(pretrained=missing)
    assert missing in str(info.value)
    assert 'pretrained' in str(info.value)


def test_matches_hf_bert_model_without_prompts():
    encoder = tiny_encoder().eval()
    reference = BertModel(BertConfig(**TINY), add_pooling_layer=False).eval()
    missing, unexpected = reference.load_state_dict(
        encoder.state_dict(), strict=False)
    assert not missing and not unexpected
    input_ids, mask = padded_batch()
    with torch.no_grad():
        ours = encoder(input_ids, mask)
        theirs = reference(input_ids, attention_mask=mask).last_hidden_state
    assert ours.shape == (2, 6, 32)
    keep = mask.bool()
    torch.testing.assert_close(ours[keep], theirs[keep], rtol=0, atol=1e-5)


def test_sdpa_equals_eager_with_prompts():
    eager = tiny_encoder(attn_implementation='eager').eval()
    sdpa = tiny_encoder(attn_implementation='sdpa').eval()
    sdpa.load_state_dict(eager.state_dict())
    assert eager.bert_config._attn_implementation == 'eager'
    assert sdpa.bert_config._attn_implementation == 'sdpa'
    input_ids, mask = padded_batch()
    prompts = torch.randn(2, 5, 32)
    with torch.no_grad():
        out_eager = eager(input_ids, mask, prompts=prompts)
        out_sdpa = sdpa(input_ids, mask, prompts=prompts)
    torch.testing.assert_close(out_eager, out_sdpa, rtol=0, atol=1e-5)


def test_prompts_are_appended_after_embedding():
    encoder = tiny_encoder().eval()
    input_ids, mask = padded_batch()
    prompts = torch.randn(2, 5, 32)
    with torch.no_grad():
        out = encoder(input_ids, mask, prompts=prompts)
        # Prompts skip the embedding layer and are always attended to.
        hidden = torch.cat([encoder.embed(input_ids), prompts], dim=1)
        full_mask = torch.cat([mask, torch.ones(2, 5, dtype=mask.dtype)], 1)
        expected = encoder.encode(hidden, full_mask)
        without = encoder(input_ids, mask)
    assert out.shape == (2, 11, 32)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    # The prompts change the sentence features (they are attended to).
    assert not torch.allclose(out[:, :6], without, atol=1e-4)


def test_padding_is_ignored():
    encoder = tiny_encoder().eval()
    input_ids, mask = padded_batch()
    other_pad = input_ids.clone()
    other_pad[1, 4:] = 1996  # garbage ids at padded positions
    prompts = torch.randn(2, 5, 32)
    with torch.no_grad():
        a = encoder(input_ids, mask, prompts=prompts)
        b = encoder(other_pad, mask, prompts=prompts)
    torch.testing.assert_close(a[1, :4], b[1, :4], rtol=0, atol=1e-5)
    torch.testing.assert_close(a[:, 6:], b[:, 6:], rtol=0, atol=1e-5)


def test_extended_mask_uses_reference_value():
    mask = torch.tensor([[1, 1, 0]])
    ext = build_extended_attention_mask(mask, torch.float16)
    assert ext.shape == (1, 1, 1, 3) and ext.dtype == torch.float16
    assert ext.flatten().tolist() == [0.0, 0.0, -10000.0]


def test_dropout_active_in_train_mode():
    encoder = tiny_encoder().train()
    assert encoder.bert_config.hidden_dropout_prob == 0.1
    input_ids, mask = padded_batch()
    assert not torch.allclose(
        encoder(input_ids, mask), encoder(input_ids, mask))


def test_gradients_reach_prompts_and_weights():
    encoder = tiny_encoder()
    input_ids, mask = padded_batch()
    prompts = torch.randn(2, 5, 32, requires_grad=True)
    encoder(input_ids, mask, prompts=prompts)[:, :6].sum().backward()
    assert prompts.grad is not None and prompts.grad.abs().sum() > 0
    assert encoder.embeddings.word_embeddings.weight.grad is not None


def test_old_position_ids_buffer_is_tolerated():
    """transformers 3.1-4.30 checkpoints carry ``embeddings.position_ids``."""
    encoder = tiny_encoder()
    state = encoder.state_dict()
    state['embeddings.position_ids'] = torch.arange(512)[None]
    result = encoder.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_build_from_registry():
    encoder = MODELS.build(dict(type='BertTextEncoder', config=TINY))
    assert isinstance(encoder, BertTextEncoder)


def test_bert_base_parameter_count():
    encoder = BertTextEncoder(config={})  # BertConfig() = BERT-base
    assert sum(p.numel() for p in encoder.parameters()) == 108_891_648
    assert sum(p.numel()
               for p in encoder.embeddings.parameters()) == 23_837_184


def test_offline_minilm_loads_completely():
    from transformers import AutoTokenizer
    folder = resolve_pretrained_path(MINILM)
    encoder = BertTextEncoder(pretrained=MINILM)
    # from_pretrained puts HF models in eval mode; ours starts in train mode.
    assert all(m.training for m in encoder.modules())
    encoder.eval()
    saved = load_file(f'{folder}/model.safetensors')
    # The file was written by transformers 4.8 (persistent position_ids)
    # and holds a pooler; everything else must match one to one.
    expected = {
        k
        for k in saved
        if not k.startswith('pooler.') and k != 'embeddings.position_ids'
    }
    ours = encoder.state_dict()
    assert set(ours) == expected
    for key in expected:
        torch.testing.assert_close(ours[key], saved[key].float())
    # Loading the raw file (incl. position_ids) is strict-clean too.
    saved = {k: v for k, v in saved.items() if not k.startswith('pooler.')}
    result = encoder.load_state_dict(saved, strict=True)
    assert not result.missing_keys and not result.unexpected_keys

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    tokens = tokenizer(['the man on the left'],
                       padding='max_length',
                       max_length=20,
                       return_tensors='pt')
    prompts = torch.randn(1, 5, 384)
    with torch.no_grad():
        out = encoder(tokens['input_ids'], tokens['attention_mask'], prompts)
        reference = BertModel.from_pretrained(folder, local_files_only=True)
        expected_out = reference.eval()(**tokens).last_hidden_state
        plain = encoder(tokens['input_ids'], tokens['attention_mask'])
    assert out.shape == (1, 25, 384)
    assert torch.isfinite(out).all()
    keep = tokens['attention_mask'].bool()
    torch.testing.assert_close(
        plain[keep], expected_out[keep], rtol=0, atol=1e-5)


def test_num_layers_keeps_the_first_layers():
    full = tiny_encoder().eval()
    short = tiny_encoder(num_layers=1).eval()
    assert len(short.encoder.layer) == 1
    assert set(short.state_dict()) < set(full.state_dict())
    input_ids, mask = padded_batch()
    with torch.no_grad():
        hidden = full.embed(input_ids)
        extended = build_extended_attention_mask(mask, hidden.dtype)
        after_first = full._run_layer(full.encoder.layer[0], hidden, extended)
        torch.testing.assert_close(
            short(input_ids, mask), after_first, rtol=0, atol=0)
    with pytest.raises(ValueError, match='num_layers'):
        tiny_encoder(num_layers=3)
