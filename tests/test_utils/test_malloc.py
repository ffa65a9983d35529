"""mmris.utils.malloc: the CPU allocator setting of tools/train.py.

Each case runs in a subprocess: mallopt changes the whole process, and the
pytest process should keep glibc's defaults.
"""
import os
import subprocess
import sys
import textwrap

import pytest

from mmris.utils.malloc import _glibc

needs_glibc = pytest.mark.skipif(
    _glibc() is None, reason='the C library is not glibc')

# Allocates a 64 MiB tensor and reports whether glibc served it with mmap
# (mallinfo2().hblkhd: bytes in mmapped blocks) besides tune_cpu_malloc's
# return value.
PROBE = textwrap.dedent('''
    import ctypes
    import torch
    from mmris.utils.malloc import _glibc, tune_cpu_malloc

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks',
            'fsmblks', 'uordblks', 'fordblks', 'keepcost')]

    libc = _glibc()
    libc.mallinfo2.restype = MallInfo2
    tuned = tune_cpu_malloc()
    before = libc.mallinfo2().hblkhd
    big = torch.ones(16 * 2**20)  # 64 MiB
    mmapped = libc.mallinfo2().hblkhd - before
    print(tuned, mmapped >= 64 * 2**20)
''')


def run_probe(**env):
    """PROBE's two words in a fresh process with ``env`` added."""
    return subprocess.run([sys.executable, '-c', PROBE],
                          env=dict(os.environ, **env), capture_output=True,
                          text=True, check=True).stdout.split()


@needs_glibc
def test_tuning_serves_large_blocks_from_the_heap():
    # applied; the 64 MiB not mmapped
    assert run_probe() == ['True', 'False']


@needs_glibc
def test_switch_off_keeps_glibc_defaults():
    # not applied; glibc mmapped the block
    assert run_probe(MMRIS_MALLOC_TUNING='0') == ['False', 'True']
