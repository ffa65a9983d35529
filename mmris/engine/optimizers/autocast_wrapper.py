"""Mixed-precision training without a loss scale: bf16 autocast, CPU too.

mmengine's ``AmpOptimWrapper`` asserts a GPU (CUDA, NPU, MLU or MUSA), so
a CPU run cannot use it even where the processor computes bf16 natively
(Intel AMX or AVX512-BF16: matrix products several times faster than
fp32). :class:`AutocastOptimWrapper` runs the forward under
``torch.autocast(device_type, dtype)`` on any device. bf16 keeps fp32's
exponent range, so no loss scale is needed; parameters, gradients and the
optimizer state stay fp32.

``tools/train.py`` turns a CPU run's ``AmpOptimWrapper`` (a config's or
``--amp``'s) into this wrapper when the processor has native bf16
(:func:`cpu_has_native_bf16`), and into fp32 otherwise.
"""
import contextlib
from typing import Optional, Union

import torch
from mmengine.optim import OptimWrapper

from mmris.registry import OPTIM_WRAPPERS


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products in hardware (Intel
    AMX tiles or AVX512-BF16). Elsewhere bf16 is emulated and slower than
    fp32."""
    probes = ('_is_amx_tile_supported', '_is_avx512_bf16_supported')
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def check_bf16(dtype: Union[str, torch.dtype]) -> torch.dtype:
    """``'bfloat16'`` or ``torch.bfloat16`` -> ``torch.bfloat16``; any other
    dtype is refused with the fix."""
    if dtype in ('bfloat16', torch.bfloat16):
        return torch.bfloat16
    if dtype in ('float16', torch.float16):
        raise ValueError(
            'AutocastOptimWrapper trains without a loss scale, which is safe '
            "for bfloat16 only; for float16 use type='AmpOptimWrapper' on a "
            'GPU.')
    raise ValueError(f'AutocastOptimWrapper: dtype={dtype!r} is not '
                     "supported; use dtype='bfloat16'.")


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose :meth:`optim_context` enables autocast.

    Args:
        dtype (str | torch.dtype): The autocast dtype: ``'bfloat16'``
            only (the default). fp16 needs a loss scale: use mmengine's
            ``AmpOptimWrapper`` on a GPU for it.
        device_type (str, optional): ``'cpu'`` or ``'cuda'``. Defaults to
            the device of the first parameter.
        **kwargs: Arguments of :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 *args,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 device_type: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cast_dtype = check_bf16(dtype)
        self.device_type = device_type

    def _autocast_device(self) -> str:
        if self.device_type is not None:
            return self.device_type
        for group in self.optimizer.param_groups:
            for param in group['params']:
                return param.device.type
        return 'cpu'

    @contextlib.contextmanager
    def optim_context(self, model: torch.nn.Module):
        """Gradient-accumulation context of the parent, plus autocast."""
        with super().optim_context(model), torch.autocast(
                self._autocast_device(), dtype=self.cast_dtype):
            yield
