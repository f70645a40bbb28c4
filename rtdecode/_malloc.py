"""Keep glibc's allocator from growing without bound in a long-running decoder.

With one malloc arena per thread, buffers that libzmq's I/O thread allocates and the decoder
thread frees fragment the arenas: a pipeline fed over ZeroMQ at 1,000 frames/s grew 52 MiB between
40 s and 130 s with per-thread arenas and stayed flat (+0.03 MiB) with one. (The growth left after
the cap was the session file's HDF5 chunk cache, fixed there; bench/results/soak.json.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["limit_malloc_arenas"]

_M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_malloc_arenas(arenas: int = 1) -> bool:
    """Cap glibc's malloc arenas for threads created from now on; return whether it applied.

    Does nothing (and returns False) off Linux or with another C library. Call it before any
    thread (ZeroMQ context, LSL, torch pool) starts.
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc
        return False
