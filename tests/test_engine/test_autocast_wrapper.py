"""AutocastOptimWrapper: bf16 autocast training on any device, CPU too."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper, build_optim_wrapper

from mmris.engine.optimizers import AutocastOptimWrapper
from mmris.registry import MODELS
from mmris.testing.models import fake_batch, tiny_model_cfg
from mmris.utils import register_all_modules


def test_forward_in_bf16_weights_and_grads_in_fp32():
    model = torch.nn.Linear(4, 2)
    wrapper = AutocastOptimWrapper(torch.optim.AdamW(model.parameters()))
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.ones(3, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().sum())
    assert model.weight.dtype == torch.float32
    assert not torch.equal(model.weight, before)
    # outside the context nothing is cast
    assert model(torch.ones(1, 4)).dtype == torch.float32


def test_float16_and_unknown_dtypes_are_refused():
    params = [torch.nn.Parameter(torch.ones(1))]
    with pytest.raises(ValueError, match='AmpOptimWrapper'):
        AutocastOptimWrapper(torch.optim.SGD(params, lr=1), dtype='float16')
    with pytest.raises(ValueError, match="'int8' is not supported"):
        AutocastOptimWrapper(torch.optim.SGD(params, lr=1), dtype='int8')


def test_builds_by_name_in_the_mmris_scope():
    register_all_modules()
    model = torch.nn.Linear(2, 1)
    wrapper = build_optim_wrapper(
        model,
        dict(
            type='AutocastOptimWrapper',
            dtype='bfloat16',
            optimizer=dict(type='AdamW', lr=1e-3)))
    assert isinstance(wrapper, AutocastOptimWrapper)


def _losses(wrapper_cls, steps=3):
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg('MaskRISSegmentor'))
    for module in model.modules():  # same trajectory: no dropout
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    model.train()
    wrapper = wrapper_cls(torch.optim.AdamW(model.parameters(), lr=1e-4))
    batch = fake_batch(batch_size=2, size=64)
    return [
        model.train_step(copy.deepcopy(batch), wrapper)['loss'].item()
        for _ in range(steps)
    ]


def test_maskris_training_follows_fp32_to_bf16_precision():
    """Both MaskRIS passes run under autocast; the losses of the first
    steps agree with fp32 training to bf16 rounding (8 mantissa bits)."""
    bf16 = _losses(AutocastOptimWrapper)
    fp32 = _losses(OptimWrapper)
    assert all(torch.isfinite(torch.tensor(bf16)))
    for a, b in zip(bf16, fp32):
        assert abs(a - b) <= 2e-2 * abs(b), (bf16, fp32)
