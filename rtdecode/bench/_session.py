"""Read the per-frame timing table out of a decoder session file (HDF5)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from rtdecode.bench._peers import BenchError

__all__ = ["TIMING_COLUMNS", "read_timings"]

TIMING_COLUMNS: tuple[str, ...] = (
    "seq",
    "recv_ns",
    "preprocessed_ns",
    "inferred_ns",
    "published_ns",
)
"""Integer columns of the session file's per-frame table that the benchmark uses."""


def _find_table(group: h5py.Group) -> dict[str, np.ndarray] | None:
    """Depth-first search for the timing columns, as one compound dataset or sibling datasets."""
    names = set(group.keys())
    if set(TIMING_COLUMNS) <= names and all(
        isinstance(group[c], h5py.Dataset) for c in names & set(TIMING_COLUMNS)
    ):
        return {c: np.asarray(group[c][()]) for c in TIMING_COLUMNS}
    for key in sorted(names):
        item = group[key]
        if isinstance(item, h5py.Dataset):
            fields = item.dtype.names or ()
            if set(TIMING_COLUMNS) <= set(fields):
                data = item[()]
                return {c: np.asarray(data[c]) for c in TIMING_COLUMNS}
        elif isinstance(item, h5py.Group):
            found = _find_table(item)
            if found is not None:
                return found
    return None


def read_timings(path: Path) -> dict[str, np.ndarray]:
    """Return the session file's per-frame timing columns as int64 arrays of equal length.

    Parameters
    ----------
    path
        A session file written by ``rtdecode run --sink SESSION.h5``.

    Raises
    ------
    BenchError
        When the file is missing or holds no table with the columns in :data:`TIMING_COLUMNS`.
    """
    if not path.is_file():
        raise BenchError(
            f"the decoder wrote no session file at {path}; check that `rtdecode run` accepts "
            "a .h5 path as --sink (its log is beside the file)"
        )
    try:
        with h5py.File(path, "r") as handle:
            table = _find_table(handle)
    except OSError as exc:
        raise BenchError(f"session file {path} is not readable HDF5: {exc}") from exc
    if table is None:
        raise BenchError(
            f"session file {path} has no per-frame timing table with columns "
            f"{list(TIMING_COLUMNS)}; the decoder's session format changed, update "
            "rtdecode.bench._session"
        )
    return {name: column.astype(np.int64, copy=False) for name, column in table.items()}
