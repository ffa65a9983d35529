"""Every fast path of tools/analysis_tools/benchmark.py equals the plain path.

The fast paths are switched the way the benchmark switches them
(``apply_fast_config`` / ``build_model``) on the tiny CARIS, with the same
weights, in eval mode (no dropout) and fp32.
"""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.optim import OptimWrapper

from mmris.registry import MODELS
from mmris.testing.models import fake_batch, tiny_model_cfg
from mmris.testing.tools import REPO, load_script


def load_benchmark():
    """tools/analysis_tools/benchmark.py as a module."""
    path = osp.join(REPO, 'tools', 'analysis_tools', 'benchmark.py')
    return load_script(path, 'mmris_benchmark')


benchmark = load_benchmark()


def build_pair(fast: str, segmentor: str = 'RISEncoderDecoder', **model):
    """(plain, fast) tiny models with identical weights, eval mode.

    ``model`` updates the tiny model dict (e.g. ``decode_head``).
    """
    cfg = ConfigDict(model=tiny_model_cfg(segmentor))
    for key, value in model.items():
        cfg.model[key].update(value)
    plain = benchmark.build_model(cfg, 'none', 'cpu', seed=0).eval()
    quick = benchmark.build_model(cfg, fast, 'cpu', seed=1).eval()
    benchmark.clone_weights(plain, quick)
    return plain, quick


def logits(model, batch):
    data = model.data_preprocessor(batch, False)
    with torch.no_grad():
        return model(**data, mode='tensor')


class GradRecorder(OptimWrapper):
    """Keeps the gradients at ``step`` instead of stepping."""

    def step(self, **kwargs):
        self.grads = {
            name: p.grad.clone()
            for name, p in self.model_ref.named_parameters()
            if p.grad is not None
        }


def one_step(model, batch):
    """(log_vars, gradients) of one ``train_step`` in eval mode."""
    wrapper = GradRecorder(torch.optim.SGD(model.parameters(), lr=0.0))
    wrapper.model_ref = model
    log_vars = model.train_step(batch, wrapper)
    return log_vars, wrapper.grads


def assert_same_grads(expected, actual, atol, rtol):
    assert expected.keys() == actual.keys() and len(expected) > 0
    for name in expected:
        torch.testing.assert_close(
            actual[name], expected[name], atol=atol, rtol=rtol, msg=name)


def test_sdpa_switch_sets_all_three_attentions():
    cfg = ConfigDict(model=tiny_model_cfg())
    benchmark.apply_fast_config(cfg.model, 'sdpa')
    assert cfg.model.backbone.vis_encoder.use_sdpa is True
    assert cfg.model.decode_head.use_sdpa is True
    assert cfg.model.backbone.lang_encoder.attn_implementation == 'sdpa'


def test_sdpa_full_model_equals_eager():
    plain, fast = build_pair('sdpa')
    batch = fake_batch(batch_size=2, size=64, length=10)
    torch.testing.assert_close(
        logits(fast, batch), logits(plain, batch), atol=1e-4, rtol=1e-4)


def test_channels_last_equals_plain():
    plain, fast = build_pair('channels_last')
    batch = fake_batch(batch_size=2, size=64)
    torch.testing.assert_close(
        logits(fast, batch), logits(plain, batch), atol=1e-4, rtol=1e-4)


def test_batched_dcl_same_loss_and_gradients():
    """One 2B forward/backward = the single-graph two-pass form."""
    cfg = ConfigDict(
        model=tiny_model_cfg(
            'MaskRISSegmentor', dcl=dict(memory_saving=False)))
    single = benchmark.build_model(cfg, 'none', 'cpu', seed=0).eval()
    batched = benchmark.build_model(cfg, 'batched_dcl', 'cpu', 0).eval()
    benchmark.clone_weights(single, batched)
    assert batched.dcl['batched'] and not batched.two_backward
    log_single, grads_single = one_step(single, fake_batch(seed=3))
    log_batched, grads_batched = one_step(batched, fake_batch(seed=3))
    for key in ('loss_clean', 'loss_masked'):
        torch.testing.assert_close(
            log_batched[key], log_single[key], atol=1e-5, rtol=1e-5)
    assert_same_grads(grads_single, grads_batched, atol=1e-5, rtol=1e-4)


def test_batched_dcl_uses_masked_ids_and_images(monkeypatch):
    """The masked half gets the corrupted ids and the zero-filled patches;
    the clean half the clean inputs."""
    model = MODELS.build(
        tiny_model_cfg('MaskRISSegmentor', dcl=dict(batched=True)))
    seen = {}

    def fake_logits(inputs, input_ids, attention_mask):
        seen.update(inputs=inputs, ids=input_ids, mask=attention_mask)
        return torch.zeros(inputs.shape[0], 2, 16, 16, requires_grad=True)

    monkeypatch.setattr(model, 'encode_decode_logits', fake_logits)
    data = model.data_preprocessor(fake_batch(batch_size=2), True)
    model.loss(**data)
    samples = data['data_samples']
    clean_ids = model.stack_text(samples, 'input_ids')
    masked_ids = model.stack_text(samples, 'masked_input_ids')
    assert torch.equal(seen['ids'], torch.cat([clean_ids, masked_ids]))
    assert torch.equal(seen['inputs'][:2], data['inputs'])
    assert torch.equal(seen['inputs'][2:],
                       model.mask_images(data['inputs'], samples))
    attention = model.stack_text(samples, 'attention_mask')
    assert torch.equal(seen['mask'], torch.cat([attention, attention]))


def count_checkpoints(monkeypatch) -> list:
    """Record the modules run under ``torch.utils.checkpoint``."""
    import torch.utils.checkpoint as cp
    calls, original = [], cp.checkpoint

    def counting(function, *args, **kwargs):
        calls.append(type(getattr(function, '__self__', function)).__name__)
        return original(function, *args, **kwargs)

    monkeypatch.setattr(cp, 'checkpoint', counting)
    return calls


@pytest.mark.parametrize('segmentor',
                         ['RISEncoderDecoder', 'MaskRISSegmentor'])
def test_checkpoint_same_gradients(segmentor, monkeypatch):
    """Checkpointing Swin, BERT and decoder layers changes no gradient."""
    plain, fast = build_pair('checkpoint', segmentor)
    assert all(layer.with_cp for layer in fast.backbone.vis_encoder.layers)
    assert fast.backbone.lang_encoder.with_cp and fast.decode_head.with_cp
    _, grads_plain = one_step(plain, fake_batch(seed=1))
    calls = count_checkpoints(monkeypatch)
    _, grads_fast = one_step(fast, fake_batch(seed=1))
    assert_same_grads(grads_plain, grads_fast, atol=1e-6, rtol=1e-5)
    # every layer of the three parts ran checkpointed, in each pass
    passes = 2 if segmentor == 'MaskRISSegmentor' else 1
    swin = sum(len(layer.blocks) for layer in fast.backbone.vis_encoder.layers)
    bert = len(fast.backbone.lang_encoder.encoder.layer)
    svla = len(fast.decode_head.encoder)
    assert len(calls) == passes * (swin + bert + svla)


def test_checkpoint_keeps_dropout_masks():
    """Train mode: the recomputation redraws the forward's dropout masks."""
    plain, fast = build_pair('checkpoint', decode_head=dict(dropout=0.2))
    grads = []
    for model in (plain, fast):
        model.train()
        torch.manual_seed(3)
        grads.append(one_step(model, fake_batch(seed=1))[1])
    assert_same_grads(grads[0], grads[1], atol=1e-6, rtol=1e-5)
    # the masks matter: another seed gives other gradients
    torch.manual_seed(4)
    other = one_step(plain, fake_batch(seed=1))[1]
    assert any(not torch.allclose(other[k], grads[0][k]) for k in other)


def test_no_dropout_turns_every_dropout_off():
    cfg = ConfigDict(model=tiny_model_cfg())
    model = benchmark.build_model(cfg, 'none', 'cpu', 0, no_dropout=True)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            assert module.p == 0.0
        assert getattr(module, 'drop_prob', 0.0) == 0.0


@pytest.mark.parametrize('fast', ['batched_dcl'])
def test_batched_dcl_needs_maskris(fast):
    cfg = tiny_model_cfg()
    with pytest.raises(ValueError, match='MaskRISSegmentor'):
        benchmark.apply_fast_config(cfg, fast)


def compiled_pair(backend: str):
    cfg = ConfigDict(model=tiny_model_cfg())
    plain = benchmark.build_model(cfg, 'none', 'cpu', seed=0).eval()
    fast = benchmark.build_model(
        cfg, 'compile', 'cpu', seed=1, compile_backend=backend).eval()
    benchmark.clone_weights(plain, fast)
    return plain, fast


# TorchDynamo tracing takes ~50 s (eager backend) to minutes (inductor,
# C++ compilation) on a busy 2-core CPU: opt in with MMRIS_TEST_COMPILE=1.
needs_compile_opt_in = pytest.mark.skipif(
    not os.environ.get('MMRIS_TEST_COMPILE'),
    reason='slow torch.compile tracing; set MMRIS_TEST_COMPILE=1')


@needs_compile_opt_in
@pytest.mark.parametrize('backend,tol', [('eager', 1e-5), ('inductor', 1e-4)])
def test_compile_equals_plain(backend, tol):
    """The compiled network (graph breaks included) gives the plain
    logits."""
    plain, fast = compiled_pair(backend)
    batch = fake_batch(batch_size=2, size=64)
    torch.testing.assert_close(
        logits(fast, batch), logits(plain, batch), atol=tol, rtol=tol)
