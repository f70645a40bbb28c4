"""The one percentile definition of rtdecode, and fixed-memory latency histograms.

Every latency percentile rtdecode reports (the live summary, ``rtdecode bench``,
``bench/engine_latency.py``) is the *nearest rank*: the smallest sample with at least q % of
the samples at or below it (NumPy's ``method="inverted_cdf"``, without its floating-point
rounding of the rank). It is always a latency that happened, never an interpolation between
two. :class:`LatencyHistogram` applies the same rank to 1 %-wide bins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["LatencyHistogram", "nearest_rank", "percentiles"]

_MIN_NS = 100  # values below land in the first bin
_RESOLUTION = 0.01  # bins are 1 % wide, so percentiles are within 1 %
_MAX_NS = 100_000_000_000  # 100 s; longer values land in the last bin


def nearest_rank(q: float, count: int) -> int:
    """1-based rank of percentile ``q`` (0-100) among ``count`` samples.

    The rank is ``ceil(q / 100 * count)``, computed so that 99.9 % of 1,000 is rank 999 (plain
    floating point gives 999.0000000000001 and so rank 1,000).
    """
    return max(1, math.ceil(round(q * count / 100.0, 9)))


def percentiles(samples: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Nearest-rank percentiles ``q`` (0-100) of a non-empty 1-D array of samples."""
    ordered = np.sort(samples)
    return ordered[[nearest_rank(x, ordered.size) - 1 for x in q]]


class LatencyHistogram:
    """Latency distribution over an unbounded number of samples in constant memory.

    Samples go into bins 1 % wide from 100 ns to 100 s; a percentile is the upper edge of the
    bin holding the nearest-rank sample (so it is never optimistic by more than 1 %), and the
    maximum is exact.
    """

    _log_base = math.log1p(_RESOLUTION)
    _n_bins = math.ceil(math.log(_MAX_NS / _MIN_NS) / _log_base) + 2

    def __init__(self) -> None:
        self.counts = [0] * self._n_bins  # a list: incrementing it is 20x cheaper than NumPy
        self.count = 0
        self.max_ns = 0

    def record(self, ns: int) -> None:
        """Add one sample (nanoseconds)."""
        index = (
            min(int(math.log(ns / _MIN_NS) / self._log_base) + 1, self._n_bins - 1)
            if ns >= _MIN_NS
            else 0
        )
        self.counts[index] += 1
        self.count += 1
        if ns > self.max_ns:
            self.max_ns = ns

    def percentile(self, q: float) -> float:
        """Latency in nanoseconds at percentile ``q`` (0-100); NaN with no samples."""
        if self.count == 0:
            return float("nan")
        rank = nearest_rank(q, self.count)
        index = int(np.searchsorted(np.cumsum(self.counts), rank))
        edge = _MIN_NS * (1.0 + _RESOLUTION) ** index
        return float(min(edge, self.max_ns))

    def summary_us(self) -> dict[str, float | int | None]:
        """``{"count", "p50", "p99", "p99.9", "max"}`` in microseconds (``None`` when empty)."""
        if self.count == 0:
            return {"count": 0, "p50": None, "p99": None, "p99.9": None, "max": None}
        return {
            "count": self.count,
            "p50": round(self.percentile(50) / 1e3, 1),
            "p99": round(self.percentile(99) / 1e3, 1),
            "p99.9": round(self.percentile(99.9) / 1e3, 1),
            "max": round(self.max_ns / 1e3, 1),
        }
