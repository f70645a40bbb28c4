"""A fixed-capacity column ring that page sessions read incrementally (by cursor)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["ColumnRing"]


class ColumnRing:
    """The last ``capacity`` rows of named float columns; memory is fixed at construction.

    Parameters
    ----------
    columns
        Column names.
    capacity
        Rows kept.

    Attributes
    ----------
    total
        Rows ever appended (a reader's cursor counts in these).
    """

    def __init__(self, columns: tuple[str, ...], capacity: int) -> None:
        self.columns = columns
        self.capacity = capacity
        self._data = {name: np.full(capacity, np.nan) for name in columns}
        self.total = 0

    def append(self, row: Mapping[str, float]) -> None:
        """Add one row (missing columns are NaN)."""
        k = self.total % self.capacity
        for name, column in self._data.items():
            column[k] = row.get(name, np.nan)
        self.total += 1

    def since(self, cursor: int) -> tuple[dict[str, np.ndarray], bool]:
        """Rows appended after ``cursor``, oldest first, and whether the reader must start over
        (it fell more than ``capacity`` rows behind: the rows given are then all rows held)."""
        reset = cursor < self.total - self.capacity or cursor > self.total
        start = max(self.total - self.capacity, 0) if reset else cursor
        index = np.arange(start, self.total) % self.capacity
        return {name: column[index] for name, column in self._data.items()}, reset

    def last(self, name: str) -> float:
        """The newest value of a column (NaN when empty)."""
        return float(self._data[name][(self.total - 1) % self.capacity]) if self.total else np.nan
