"""Compatibility shims of mmris.utils.compat and mmris.engine.compat."""
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

import mmris  # noqa: F401  (applies the runtime patches)
from mmris.engine import (adapt_amp_to_cpu, adapt_eval_autocast_to_cpu,
                          enable_amp)


def test_runner_checkpoint_loads_under_weights_only_default(tmp_path):
    # mmengine stores its message hub (HistoryBuffer, numpy arrays) in every
    # checkpoint; torch>=2.6 refuses those with weights_only=True.
    ckpt = dict(
        state_dict=dict(w=torch.ones(2)),
        message_hub=dict(
            log=HistoryBuffer([1.0, 2.0], [1, 1]), arr=np.arange(3)),
        meta=dict(epoch=1))
    path = tmp_path / 'epoch_1.pth'
    torch.save(ckpt, path)
    with pytest.raises(Exception):
        torch.load(path)  # the failure the shim exists for
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert isinstance(loaded['message_hub']['log'], HistoryBuffer)


def test_missing_checkpoint_names_the_file(tmp_path):
    path = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(str(path))


def test_corrupt_checkpoint_gets_clear_error(tmp_path):
    path = tmp_path / 'bad.pth'
    path.write_bytes(b'this is not a checkpoint')
    with pytest.raises(RuntimeError, match='not a PyTorch checkpoint'):
        CheckpointLoader.load_checkpoint(str(path))


def _cfg(wrapper_type):
    return Config(
        dict(
            optim_wrapper=dict(
                type=wrapper_type,
                loss_scale='dynamic',
                optimizer=dict(type='AdamW', lr=1e-4))))


def _native_bf16(monkeypatch, native):
    from mmris.engine.optimizers import autocast_wrapper
    monkeypatch.setattr(autocast_wrapper, 'cpu_has_native_bf16',
                        lambda: native)


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_amp_falls_back_to_fp32_without_cuda_or_native_bf16(monkeypatch):
    _native_bf16(monkeypatch, False)
    cfg = _cfg('AmpOptimWrapper')
    with pytest.warns(UserWarning, match='needs a CUDA device'):
        assert adapt_amp_to_cpu(cfg)
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    # the adapted wrapper really builds and steps on CPU
    from mmengine.optim import build_optim_wrapper
    model = torch.nn.Linear(2, 1)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    wrapper.update_params(model(torch.ones(1, 2)).sum())


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_amp_becomes_bf16_autocast_on_a_native_bf16_cpu(monkeypatch):
    from mmengine.optim import build_optim_wrapper

    from mmris.engine.optimizers import AutocastOptimWrapper
    from mmris.utils import register_all_modules
    _native_bf16(monkeypatch, True)
    cfg = _cfg('AmpOptimWrapper')
    cfg.optim_wrapper.dtype = 'float16'
    with pytest.warns(UserWarning, match='bf16 autocast'):
        assert adapt_amp_to_cpu(cfg)
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    assert 'loss_scale' not in cfg.optim_wrapper
    register_all_modules()
    model = torch.nn.Linear(2, 1)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert isinstance(wrapper, AutocastOptimWrapper)
    with wrapper.optim_context(model):
        out = model(torch.ones(1, 2))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().sum())


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
@pytest.mark.parametrize('native', [False, True])
def test_amp_flag_on_cpu_warns_once(monkeypatch, native):
    _native_bf16(monkeypatch, native)
    cfg = _cfg('OptimWrapper')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        enable_amp(cfg)
    expected = 'AutocastOptimWrapper' if native else 'OptimWrapper'
    assert cfg.optim_wrapper.type == expected
    assert sum('CUDA' in str(w.message) for w in caught) == 1


def _loops_cfg():
    return Config(
        dict(
            val_cfg=dict(type='ValLoop', fp16=True),
            test_cfg=dict(type='TestLoop', fp16=True)))


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_eval_autocast_off_without_native_bf16(monkeypatch):
    _native_bf16(monkeypatch, False)
    cfg = _loops_cfg()
    with pytest.warns(UserWarning, match='evaluation runs in fp32'):
        assert adapt_eval_autocast_to_cpu(cfg)
    assert cfg.val_cfg.fp16 is False and cfg.test_cfg.fp16 is False
    assert not adapt_eval_autocast_to_cpu(cfg)  # nothing left to change


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_eval_autocast_kept_on_a_native_bf16_cpu(monkeypatch):
    _native_bf16(monkeypatch, True)
    cfg = _loops_cfg()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert not adapt_eval_autocast_to_cpu(cfg)
    assert cfg.val_cfg.fp16 is True and cfg.test_cfg.fp16 is True


def test_plain_optim_wrapper_untouched():
    cfg = _cfg('OptimWrapper')
    assert not adapt_amp_to_cpu(cfg)
    assert cfg.optim_wrapper.type == 'OptimWrapper'


def test_numpy2_and_transformers5_stack():
    import transformers

    from mmris.utils import MINILM, resolve_pretrained_path
    assert int(np.__version__.split('.')[0]) >= 2
    tok = transformers.AutoTokenizer.from_pretrained(
        resolve_pretrained_path(MINILM))
    ids = tok('The man in the RED shirt!')['input_ids']
    assert ids[0] == tok.cls_token_id == 101 and ids[-1] == 102
    assert tok.convert_ids_to_tokens(ids)[1:-1] == [
        'the', 'man', 'in', 'the', 'red', 'shirt', '!'
    ]


def test_resolve_pretrained_path_errors(tmp_path):
    from mmris.utils import resolve_pretrained_path
    assert resolve_pretrained_path(str(tmp_path)) == str(tmp_path)
    assert resolve_pretrained_path('bert-base-uncased') == 'bert-base-uncased'
    with pytest.raises(FileNotFoundError, match='does not exist'):
        resolve_pretrained_path(str(tmp_path / 'missing' / 'bert'))
    with pytest.raises(FileNotFoundError, match='not installed'):
        resolve_pretrained_path('pkg://no_such_package_xyz/model')
