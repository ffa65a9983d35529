from . import hooks, optimizers, runner, schedulers  # noqa: F401
from .compat import (CPUDistributedDataParallel, adapt_amp_to_cpu,
                     adapt_cfg_to_device, adapt_eval_autocast_to_cpu,
                     enable_amp)

__all__ = [
    'CPUDistributedDataParallel', 'adapt_amp_to_cpu', 'adapt_cfg_to_device',
    'adapt_eval_autocast_to_cpu', 'enable_amp'
]
