"""Keep freed tensor memory for reuse: glibc malloc settings for a process that steps a model.

Each checked step allocates the reference's new tensors and frees the previous step's. By
default glibc maps fresh pages for blocks above a dynamic threshold, and returns freed
memory at the top of its heap to the system. Every step of a large model then pays again
for the kernel to map and zero its pages. On a 1,002,001-parameter MLP, `optimstep check`
took about 2.5 times a bare training loop with the defaults, 2.0 times with these settings
(torch 2.13, CPU, Linux, measured by `python -m benchmarks --only check`).

The settings are process-wide, so only optimstep's own commands apply them; the library
never changes the allocator of a program that imports it.
"""

from __future__ import annotations

import ctypes
import logging
import platform

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
"""mallopt parameter: free memory at the top of the heap kept before returning it."""
M_MMAP_THRESHOLD = -3
"""mallopt parameter: the block size from which malloc maps pages of its own."""

HEAP_BLOCK_BYTES = 32 * 2**20
"""Blocks up to this size come from the heap, where freed ones are reused: glibc's upper
limit for the mmap threshold on 64-bit systems: a float32 tensor of about 2,900x2,900."""
KEPT_FREE_BYTES = 256 * 2**20
"""Free memory the heap keeps for reuse before returning any to the system."""


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed blocks of up to HEAP_BLOCK_BYTES; return whether it did.

    Does nothing, and returns False, where the C library is not glibc.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(M_MMAP_THRESHOLD, HEAP_BLOCK_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES))
    logger.debug("malloc keeps freed memory for reuse: %s", applied)
    return applied
