"""Latency statistics from int64 nanosecond samples."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rtdecode.latency import percentiles

__all__ = ["PERCENTILES", "LatencyStats", "summarize"]

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 99.9)
"""Percentiles every latency distribution is reported at."""


@dataclass(frozen=True)
class LatencyStats:
    """Summary of one latency distribution, in microseconds.

    Parameters
    ----------
    count
        Number of samples.
    p50, p90, p99, p99_9
        Nearest-rank percentiles (:func:`rtdecode.latency.percentiles`, the definition
        every rtdecode latency uses). With fewer than 1,000 samples ``p99_9`` is the largest
        sample; read it with ``count``.
    max
        Largest sample.
    mean
        Arithmetic mean.
    jitter
        Standard deviation of the samples (population, ``ddof=0``).
    """

    count: int
    p50: float
    p90: float
    p99: float
    p99_9: float
    max: float
    mean: float
    jitter: float

    def to_dict(self) -> dict[str, float | int]:
        """Return the fields as a JSON-ready mapping (microseconds, rounded to 0.001 us)."""
        return {k: (v if isinstance(v, int) else round(v, 3)) for k, v in asdict(self).items()}


def summarize(samples_ns: np.ndarray) -> LatencyStats | None:
    """Summarise latencies given in nanoseconds; ``None`` when there are no samples.

    Parameters
    ----------
    samples_ns
        1-D integer array of latencies in nanoseconds (``time.perf_counter_ns`` differences).

    Returns
    -------
    LatencyStats or None
        The distribution in microseconds, or ``None`` for an empty array.
    """
    samples = np.asarray(samples_ns)
    if samples.ndim != 1:
        raise ValueError(f"latency samples must be 1-D, got shape {samples.shape}")
    if not np.issubdtype(samples.dtype, np.integer):
        raise TypeError(f"latency samples must be integer nanoseconds, got dtype {samples.dtype}")
    if samples.size == 0:
        return None
    us = samples.astype(np.float64) / 1e3
    p50, p90, p99, p999 = percentiles(us, PERCENTILES)
    return LatencyStats(
        count=int(us.size),
        p50=float(p50),
        p90=float(p90),
        p99=float(p99),
        p99_9=float(p999),
        max=float(us.max()),
        mean=float(us.mean()),
        jitter=float(us.std()),
    )
