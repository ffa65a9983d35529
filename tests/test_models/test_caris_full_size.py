"""The full-size CARIS (Swin-B + BERT-base) against the spec's figures.

One model is built per module (random weights: the BERT-base architecture
from ``BertConfig()``, no download) and reused by every test here.
"""
import pytest
import torch
from mmengine.config import Config

from mmris.engine.optimizers import CARISOptimWrapperConstructor
from mmris.models.utils.ckpt_convert import caris_to_mmris
from mmris.registry import MODELS
from mmris.testing.models import fake_batch
from mmris.testing.tools import REPO

CONFIG = f'{REPO}/configs/caris/caris_swin-b_bert_50e_refcoco.py'


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope='module')
def model():
    cfg = Config.fromfile(CONFIG).model
    cfg.backbone.vis_encoder.pretrained = None
    cfg.backbone.lang_encoder = dict(type='BertTextEncoder', config=dict())
    torch.manual_seed(0)
    return MODELS.build(cfg)


def test_parameter_counts(model):
    backbone = model.backbone
    assert count(backbone.vis_encoder) == 86_745_016
    assert count(backbone.lang_encoder) == 108_891_648
    assert count(backbone.conditional_prompts) == 2_760_960
    assert count(model.decode_head) == 28_175_040
    assert count(model) == 226_572_664


def test_six_parameter_groups_have_the_reference_sizes(model):
    constructor = CARISOptimWrapperConstructor(
        dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01)))
    groups = constructor(model).optimizer.param_groups
    sizes = [sum(p.numel() for p in g['params']) for g in groups]
    assert sizes == [
        23_874_048, 85_017_600, 122_936, 86_622_080, 25_600, 30_910_400
    ]
    assert [g['lr'] for g in groups] == [1e-5] * 4 + [1e-4] * 2
    assert [g['weight_decay'] for g in groups] == [0, 0.01] * 3


def to_original_names(state_dict):
    """The state dict as the original CARIS code names it."""
    original = {}
    for name, tensor in state_dict.items():
        if name.startswith('decode_head.'):
            name = 'pixel_decoder.' + name[len('decode_head.'):]
        original[name] = tensor
    return original


def test_original_checkpoint_maps_every_tensor(model):
    original = to_original_names(model.state_dict())
    assert len(original) == 925  # the spec's count, index buffers included
    # a MaskRIS checkpoint has one more (unused) tensor, and DDP prefixes
    maskris = {f'module.{k}': v.clone() for k, v in original.items()}
    maskris['module.backbone.vis_encoder.mask_token'] = torch.zeros(1, 1, 128)
    converted, dropped = caris_to_mmris(maskris)
    assert dropped == ['backbone.vis_encoder.mask_token']
    result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


@pytest.mark.parametrize('size, maps', [
    (448, [112, 56, 28, 14]),
    (480, [120, 60, 30, 15]),
])
def test_forward_shapes(model, size, maps):
    model.eval()
    data = model.data_preprocessor(
        fake_batch(batch_size=1, size=size, length=20), False)
    ids = model.stack_text(data['data_samples'], 'input_ids')
    mask = model.stack_text(data['data_samples'], 'attention_mask')
    with torch.no_grad():
        visual, text = model.extract_feat(data['inputs'], ids, mask)
        logits = model.decode_head(visual, text, mask)
        (result, ) = model.predict(data['inputs'], data['data_samples'])
    assert [tuple(v.shape) for v in visual] == [
        (1, c, m, m) for c, m in zip((128, 256, 512, 1024), maps)
    ]
    assert text.shape == (1, 20, 768)
    assert model.decode_head.num_encoder_tokens(visual) == sum(
        m * m for m in maps[1:])
    assert logits.shape == (1, 2, maps[0], maps[0])
    assert result.pred_sem_seg.data.shape == (1, size, size)


def test_one_training_iteration_reaches_every_parameter(model):
    model.train()
    # Stochastic depth drops whole residual branches per sample: at batch 1
    # a dropped block legitimately gets no gradient. Switch it off here so
    # the test checks the wiring, not the dice.
    for module in model.modules():
        if type(module).__name__ == 'DropPath':
            module.drop_prob = 0.0
    constructor = CARISOptimWrapperConstructor(
        dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01),
            clip_grad=dict(max_norm=1.0)))
    wrapper = constructor(model)
    grads = {}
    original_step = wrapper.step

    def record_then_step(**kwargs):
        for name, param in model.named_parameters():
            grads[name] = param.grad is not None and bool(
                param.grad.abs().sum() > 0)
        original_step(**kwargs)

    wrapper.step = record_then_step
    log_vars = model.train_step(
        fake_batch(batch_size=1, size=448, length=20), wrapper)
    assert torch.isfinite(log_vars['loss'])
    assert [name for name, ok in grads.items() if not ok] == []
