"""Latency statistics on distributions whose percentiles are known exactly or closely."""

from __future__ import annotations

import numpy as np
import pytest

from rtdecode.bench import summarize
from rtdecode.latency import LatencyHistogram


def test_uniform_integers_give_exact_percentiles() -> None:
    stats = summarize(np.arange(1, 1001, dtype=np.int64) * 1000)  # 1..1000 us
    assert stats is not None
    assert stats.count == 1000
    # nearest rank: the smallest sample with at least q % of the samples at or below it
    assert (stats.p50, stats.p90, stats.p99, stats.p99_9) == (500.0, 900.0, 990.0, 999.0)
    assert stats.max == 1000.0
    assert stats.mean == pytest.approx(500.5)
    assert stats.jitter == pytest.approx(np.sqrt((1000**2 - 1) / 12))


def test_constant_latency_has_no_jitter() -> None:
    stats = summarize(np.full(50, 250_000, dtype=np.int64))
    assert stats is not None
    assert stats.p50 == stats.p99_9 == stats.max == 250.0
    assert stats.jitter == 0.0


def test_exponential_tail_matches_its_quantile_function() -> None:
    scale_us = 100.0
    rng = np.random.default_rng(0)
    samples = (rng.exponential(scale_us, 400_000) * 1e3).astype(np.int64)
    stats = summarize(samples)
    assert stats is not None
    for got, q in ((stats.p50, 0.5), (stats.p90, 0.9), (stats.p99, 0.99), (stats.p99_9, 0.999)):
        assert got == pytest.approx(-scale_us * np.log(1 - q), rel=0.03)
    assert stats.jitter == pytest.approx(scale_us, rel=0.02)


def test_a_single_outlier_shows_in_max_and_p99_9_not_in_p50() -> None:
    samples = np.full(10_000, 100_000, dtype=np.int64)
    samples[1234] = 50_000_000
    stats = summarize(samples)
    assert stats is not None
    assert stats.p50 == stats.p99 == 100.0
    assert stats.max == 50_000.0
    assert stats.p99_9 == 100.0  # one sample in 10,000 is beyond the 99.9th percentile


def test_empty_samples_give_none_and_dict_is_json_ready() -> None:
    assert summarize(np.zeros(0, dtype=np.int64)) is None
    stats = summarize(np.array([1_500, 2_500], dtype=np.int64))
    assert stats is not None
    assert stats.to_dict() == {
        "count": 2,
        "p50": 1.5,
        "p90": 2.5,
        "p99": 2.5,
        "p99_9": 2.5,
        "max": 2.5,
        "mean": 2.0,
        "jitter": 0.5,
    }


def test_float_or_2d_samples_are_refused() -> None:
    with pytest.raises(TypeError, match="integer nanoseconds"):
        summarize(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="1-D"):
        summarize(np.zeros((2, 2), dtype=np.int64))


def test_bench_and_the_live_histogram_share_one_percentile_definition() -> None:
    # Two samples: an interpolating definition would report 150 us, a latency that never happened.
    samples = np.array([100_000, 200_000], dtype=np.int64)
    histogram = LatencyHistogram()
    for value in samples:
        histogram.record(int(value))
    stats = summarize(samples)
    assert stats is not None and stats.p50 == 100.0
    assert stats.p50 <= histogram.percentile(50) / 1e3 <= stats.p50 * 1.0101
