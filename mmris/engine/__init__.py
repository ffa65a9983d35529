from . import hooks, optimizers, runner, schedulers  # noqa: F401
from .compat import (CPUDistributedDataParallel, adapt_cfg_to_device,
                     enable_amp, fallback_amp_to_fp32)

__all__ = [
    'CPUDistributedDataParallel', 'adapt_cfg_to_device', 'enable_amp',
    'fallback_amp_to_fp32'
]
