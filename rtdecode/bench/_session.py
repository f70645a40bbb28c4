"""Read the per-frame timing table out of a decoder session file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtdecode.bench._peers import BenchError
from rtdecode.errors import DataFormatError
from rtdecode.stream import read_session

__all__ = ["TIMING_COLUMNS", "read_timings"]

TIMING_COLUMNS: tuple[str, ...] = (
    "seq",
    "recv_ns",
    "preprocessed_ns",
    "inferred_ns",
    "published_ns",
)
"""Integer columns of the session file's per-frame table that the benchmark uses."""


def read_timings(path: Path) -> dict[str, np.ndarray]:
    """Return the session file's per-frame timing columns as int64 arrays of equal length.

    Parameters
    ----------
    path
        A session file written by ``rtdecode run --sink SESSION.h5``.

    Raises
    ------
    BenchError
        When the file is missing, unreadable, or holds no frame table with the columns in
        :data:`TIMING_COLUMNS`.
    """
    if not path.is_file():
        raise BenchError(
            f"the decoder wrote no session file at {path}; check that `rtdecode run` accepts "
            "a .h5 path as --sink (its log is beside the file)"
        )
    try:
        frames = read_session(path, tables=("frames",)).frames
    except DataFormatError as exc:
        raise BenchError(f"session file {path}: {exc}") from exc
    missing = [name for name in TIMING_COLUMNS if name not in frames]
    if missing:
        raise BenchError(
            f"session file {path} has no per-frame timing columns {missing}; it was not "
            "written by this version of rtdecode run"
        )
    return {name: frames[name].astype(np.int64, copy=False) for name in TIMING_COLUMNS}
