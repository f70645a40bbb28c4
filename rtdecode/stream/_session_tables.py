"""The session file's block-written tables: fixed-width rows, and ragged rows; and how its
readers open it.

Both collect rows in a preallocated block and append the block to resizable HDF5 datasets when
asked (:meth:`flush`), so memory stays constant however long the session runs. A :class:`Table`
has one row per record (a frame, a prediction); a :class:`Ragged` dataset takes a varying
number of rows per record (the neurons of one frame, whose count may change mid-run).
"""

from __future__ import annotations

import os

import h5py
import numpy as np

__all__ = ["BLOCK", "Ragged", "Table", "open_for_reading"]

BLOCK = 2048
"""Rows of a :class:`Table`'s block (and of its datasets' chunks)."""


def open_for_reading(path: str | os.PathLike[str]) -> h5py.File:
    """Open a session file to read, also while it is written or after its writer was killed
    (a plain open refuses a file whose writer never closed it: "already open for write"); an
    HDF5 file of a format older than SWMR reads is opened plainly.

    Raises
    ------
    OSError
        When the file cannot be opened.
    """
    try:
        return h5py.File(path, "r", libver="latest", swmr=True, locking=False)
    except OSError:
        return h5py.File(path, "r", locking=False)


class Table:
    """Columns written in blocks to resizable 1- or 2-D datasets of one HDF5 group."""

    def __init__(self, group: h5py.Group, columns: dict[str, tuple[np.dtype, tuple[int, ...]]]):
        self._datasets = {
            name: group.create_dataset(
                name,
                shape=(0, *shape),
                maxshape=(None, *shape),
                dtype=dtype,
                chunks=(BLOCK, *shape),
            )
            for name, (dtype, shape) in columns.items()
        }
        self.block = {
            name: np.zeros((BLOCK, *shape), dtype=dtype) for name, (dtype, shape) in columns.items()
        }
        self.fill = 0

    @property
    def full(self) -> bool:
        return self.fill == BLOCK

    @property
    def pending_bytes(self) -> int:
        """Bytes the rows waiting in the block take once written (whole chunks, as HDF5 does)."""
        return 0 if self.fill == 0 else sum(block.nbytes for block in self.block.values())

    def flush(self) -> None:
        if self.fill == 0:
            return
        for name, dataset in self._datasets.items():
            start = dataset.shape[0]
            dataset.resize(start + self.fill, axis=0)
            dataset[start:] = self.block[name][: self.fill]
        self.fill = 0


class Ragged:
    """One dataset of rows appended a varying number at a time, through a block of ``rows``.

    Parameters
    ----------
    group, name
        Where the dataset is made.
    dtype, shape
        Its rows' type and shape (``()``: one value per row).
    rows
        Rows the block holds (it grows once for a record larger than that).
    chunk
        Rows per HDF5 chunk.
    """

    def __init__(
        self,
        group: h5py.Group,
        name: str,
        dtype: np.dtype,
        shape: tuple[int, ...] = (),
        rows: int = 2**17,
        chunk: int = 2**14,
    ) -> None:
        self._dataset = group.create_dataset(
            name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype, chunks=(chunk, *shape)
        )
        self.block = np.zeros((rows, *shape), dtype=dtype)
        self.fill = 0
        self._chunk = chunk

    def fits(self, rows: int) -> bool:
        """Whether ``rows`` more fit in the block without a flush."""
        return self.fill + rows <= len(self.block)

    def take(self, rows: int) -> np.ndarray:
        """The block's next ``rows`` rows to write into (the caller flushes first unless
        :meth:`fits`)."""
        if rows > len(self.block):  # a record larger than the block: grow it once
            self.block = np.zeros((rows, *self.block.shape[1:]), self.block.dtype)
        start = self.fill
        self.fill += rows
        return self.block[start : self.fill]

    @property
    def pending_bytes(self) -> int:
        """Bytes the rows waiting in the block take once written: the whole chunks they span
        (the dataset's last chunk, partly filled, is written again)."""
        if self.fill == 0:
            return 0
        chunks = -(-self.fill // self._chunk) + 1
        return chunks * self._chunk * self.block.itemsize * int(np.prod(self.block.shape[1:]))

    def flush(self) -> None:
        if self.fill == 0:
            return
        dataset = self._dataset
        start = dataset.shape[0]
        dataset.resize(start + self.fill, axis=0)
        dataset[start:] = self.block[: self.fill]
        self.fill = 0
