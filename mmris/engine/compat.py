"""Adapt a config to the machine it runs on (CPU-only hosts above all)."""
import os
import warnings
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS as ROOT_MODEL_WRAPPERS

from mmris.registry import MODEL_WRAPPERS


def cuda_available() -> bool:
    return torch.cuda.is_available()


AMP_WRAPPERS = ('AmpOptimWrapper', 'mmengine.AmpOptimWrapper')


def adapt_amp_to_cpu(cfg, native_bf16: Optional[bool] = None) -> bool:
    """Make a config's ``AmpOptimWrapper`` runnable when there is no CUDA.

    mmengine's AmpOptimWrapper asserts a GPU. On a CPU that computes bf16
    natively (Intel AMX or AVX512-BF16) mmris trains with bf16 autocast
    instead (:class:`~mmris.engine.optimizers.AutocastOptimWrapper`: no
    loss scale is needed, and fp16 on a CPU is slow); on other CPUs in
    fp32 with ``OptimWrapper``. Either way one warning says which. Returns
    True when the config was changed. ``native_bf16`` overrides the
    processor check (False: fp32 on every CPU, as the tests use).
    """
    from mmris.engine.optimizers.autocast_wrapper import cpu_has_native_bf16
    optim = cfg.get('optim_wrapper')
    if cuda_available() or optim is None:
        return False
    if optim.get('type') not in AMP_WRAPPERS:
        return False
    if native_bf16 is None:
        native_bf16 = cpu_has_native_bf16()
    for key in ('loss_scale', 'dtype', 'use_fsdp'):
        optim.pop(key, None)
    if native_bf16:
        warnings.warn('AMP (AmpOptimWrapper) needs a CUDA device and none is '
                      'available; this CPU computes bf16 natively: training '
                      'with bf16 autocast (AutocastOptimWrapper) instead.')
        optim['type'] = 'AutocastOptimWrapper'
        optim['dtype'] = 'bfloat16'
        return True
    warnings.warn('AMP (AmpOptimWrapper) needs a CUDA device and none is '
                  'available, and bf16 autocast is not used (it needs a CPU '
                  'with AMX or AVX512-BF16): training in fp32 with '
                  'OptimWrapper instead.')
    optim['type'] = 'OptimWrapper'
    return True


def enable_amp(cfg) -> None:
    """What ``--amp`` does: fp16 with a dynamic loss scale on a GPU; on a
    CPU, bf16 autocast where native, else fp32 (:func:`adapt_amp_to_cpu`).
    """
    optim = cfg.optim_wrapper
    if optim.get('type') in AMP_WRAPPERS + ('AutocastOptimWrapper', ):
        print('AMP is already enabled in the config.')
    else:
        optim['type'] = 'AmpOptimWrapper'
        optim.setdefault('loss_scale', 'dynamic')
    adapt_amp_to_cpu(cfg)


def setup_cpu_distributed(cfg) -> None:
    """Let ``dist_train.sh``/``dist_test.sh`` run on CPU with gloo.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and the Runner
    passes ``device_ids`` to DDP; on a CPU-only torch both fail. We start the
    gloo group ourselves (the Runner then skips ``init_dist``) and use a DDP
    wrapper that drops ``device_ids`` on CPU.
    """
    if cfg.get('launcher', 'none') == 'none' or cuda_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict()
    # A configured subclass (e.g. MaskRISDistributedDataParallel) already
    # handles CPU; keep it.
    if not _handles_cpu(wrapper.get('type')):
        wrapper['type'] = 'CPUDistributedDataParallel'
    cfg.model_wrapper_cfg = wrapper
    if not dist.is_initialized():
        if 'LOCAL_RANK' not in os.environ:
            raise RuntimeError(
                '--launcher pytorch needs the torch.distributed launcher '
                '(use tools/dist_train.sh or tools/dist_test.sh).')
        dist.init_process_group(backend='gloo', init_method='env://')


def _handles_cpu(wrapper_type) -> bool:
    """Whether a configured wrapper type subclasses the CPU DDP wrapper."""
    if not isinstance(wrapper_type, str):
        return False
    cls = MODEL_WRAPPERS.get(wrapper_type)
    return isinstance(cls, type) and issubclass(cls,
                                                CPUDistributedDataParallel)


def adapt_eval_autocast_to_cpu(cfg,
                               native_bf16: Optional[bool] = None) -> bool:
    """Evaluate in fp32 on a CPU without native bf16.

    ``val_cfg``/``test_cfg`` with ``fp16=True`` run the evaluation under
    mmengine's ``autocast``, which on a CPU means bf16: faster where the
    processor computes bf16 natively, slower than fp32 where it emulates
    it. There the flag is turned off, with one warning. Returns True when
    the config was changed; ``native_bf16`` as in :func:`adapt_amp_to_cpu`.
    """
    from mmris.engine.optimizers.autocast_wrapper import cpu_has_native_bf16
    if cuda_available():
        return False
    loops = [cfg.get(key) for key in ('val_cfg', 'test_cfg')]
    loops = [loop for loop in loops if loop and loop.get('fp16')]
    if not loops:
        return False
    if native_bf16 is None:
        native_bf16 = cpu_has_native_bf16()
    if native_bf16:
        return False
    for loop in loops:
        loop['fp16'] = False
    warnings.warn('val_cfg/test_cfg fp16=True: this CPU has no native bf16 '
                  '(AMX or AVX512-BF16), so the evaluation runs in fp32.')
    return True


def adapt_cfg_to_device(cfg, native_bf16: Optional[bool] = None) -> None:
    """Apply every CPU fallback a config may need before Runner.from_cfg
    (``native_bf16``: see :func:`adapt_amp_to_cpu`)."""
    adapt_amp_to_cpu(cfg, native_bf16)
    adapt_eval_autocast_to_cpu(cfg, native_bf16)
    setup_cpu_distributed(cfg)


class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper without ``device_ids`` when running on CPU."""

    def __init__(self, module, detect_anomalous_params=False, **kwargs):
        if not cuda_available():
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        super().__init__(
            module,
            detect_anomalous_params=detect_anomalous_params,
            **kwargs)


MODEL_WRAPPERS.register_module(module=CPUDistributedDataParallel)
# Runner.wrap_model looks the wrapper up with ``get`` on mmengine's *root*
# registry, which (unlike ``build``) ignores the default scope and cannot
# reach mmris, a grandchild (mmengine -> mmseg -> mmris). Register it there
# too so ``model_wrapper_cfg=dict(type='CPUDistributedDataParallel')`` works.
ROOT_MODEL_WRAPPERS.register_module(module=CPUDistributedDataParallel)
