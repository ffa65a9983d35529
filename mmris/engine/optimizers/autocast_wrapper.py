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
from typing import Union

import torch
from mmengine.optim import OptimWrapper

from mmris.registry import OPTIM_WRAPPERS

DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products in hardware (Intel
    AMX tiles or AVX512-BF16). Elsewhere bf16 is emulated and slower than
    fp32."""
    probes = ('_is_amx_tile_supported', '_is_avx512_bf16_supported')
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def resolve_dtype(dtype: Union[str, torch.dtype]) -> torch.dtype:
    """``'bfloat16'``/``'float16'`` or a torch dtype -> the torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f'AutocastOptimWrapper: dtype={dtype!r} is not one '
                         f'of {sorted(DTYPES)}.')
    return DTYPES[dtype]


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose :meth:`optim_context` enables autocast.

    Args:
        dtype (str | torch.dtype): The autocast dtype. Defaults to
            ``'bfloat16'``. fp16 needs a loss scale: use mmengine's
            ``AmpOptimWrapper`` on a GPU for it.
        device_type (str, optional): ``'cpu'`` or ``'cuda'``. Defaults to
            the device of the first parameter.
        **kwargs: Arguments of :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 *args,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 device_type: str = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cast_dtype = resolve_dtype(dtype)
        if self.cast_dtype != torch.bfloat16:
            raise ValueError(
                'AutocastOptimWrapper trains without a loss scale, which '
                'is safe for bfloat16 only; for float16 use '
                "type='AmpOptimWrapper' on a GPU.")
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
