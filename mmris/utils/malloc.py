"""Keep freed memory in the process for CPU training (glibc only).

glibc's malloc serves every block above its mmap threshold (128 KiB to
32 MiB, adapting) with a fresh ``mmap`` and unmaps it on ``free``. A
training step allocates and frees the same large activations every
iteration, so on a CPU each step page-faults its whole working set in
again, which is slow under a hypervisor (docs/demo_data.md, 11th
session: 1.3x on ``make demo``). Serving every block from the heap and
never trimming it keeps those pages mapped: the numbers computed are the
same, only where the memory comes from changes.

Equivalent to starting Python with ``MALLOC_MMAP_MAX_=0
MALLOC_TRIM_THRESHOLD_=<large>``. ``MMRIS_MALLOC_TUNING=0`` turns it off.
"""
import ctypes
import ctypes.util
import os
from typing import Optional

import torch

# mallopt parameters of glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_INT_MAX = 2**31 - 1

ENV_SWITCH = 'MMRIS_MALLOC_TUNING'


def _glibc() -> Optional[ctypes.CDLL]:
    """The process's C library when it is glibc (has ``mallopt``)."""
    name = ctypes.util.find_library('c')
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not hasattr(libc, 'mallopt') or not hasattr(libc,
                                                   'gnu_get_libc_version'):
        return None
    return libc


def tune_cpu_malloc() -> bool:
    """Stop glibc from unmapping and trimming freed blocks on a CPU run.

    Returns whether the setting was applied: False where CUDA is available
    (activations live in CUDA's caching allocator), where the C library is
    not glibc (macOS, musl) or where ``MMRIS_MALLOC_TUNING=0``.
    """
    if os.environ.get(ENV_SWITCH, '1') == '0' or torch.cuda.is_available():
        return False
    libc = _glibc()
    if libc is None:
        return False
    # mallopt returns 1 on success, 0 on error
    no_mmap = libc.mallopt(_M_MMAP_MAX, 0)
    no_trim = libc.mallopt(_M_TRIM_THRESHOLD, _INT_MAX)
    return bool(no_mmap and no_trim)
