"""From time stamps to latencies: seq matching, per-stage split, backlog trend, session files."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from rtdecode.bench import STAGES, BenchError, Phase
from rtdecode.bench._analysis import backlog_trend, stage_latencies
from rtdecode.bench._results import step_result
from rtdecode.bench._session import TIMING_COLUMNS, read_timings
from rtdecode.stream import FrameTiming, SessionFile


def _phase() -> tuple[Phase, dict[str, np.ndarray]]:
    """Frames 10..19 sent 1 ms apart; frame 15 skipped by the decoder; stage times known."""
    first = 10
    send = 1_000_000 + np.arange(10, dtype=np.int64) * 1_000_000
    seq = np.arange(10, 20, dtype=np.int64)
    recv = send + 100_000  # 100 us hop in
    pre = recv + 2_000  # 2 us preprocessing
    inf = pre + 3_000_000  # 3 ms inference
    pub = inf + 50_000  # 50 us publish
    pub[5] = inf[5] = pre[5] = 0  # frame 15 received but skipped
    timings = {
        "seq": np.concatenate([[5], seq]),  # a warm-up row outside the phase
        "recv_ns": np.concatenate([[1], recv]),
        "preprocessed_ns": np.concatenate([[2], pre]),
        "inferred_ns": np.concatenate([[3], inf]),
        "published_ns": np.concatenate([[4], pub]),
    }
    keep = seq != 15
    # predictions: out of order, one duplicate, one from before the phase
    pred_seq = np.concatenate([[3], seq[keep][::-1], [12]])
    pred_ns = np.concatenate([[0], (pub[keep] + 120_000)[::-1], [10**12]])
    return Phase(first, send, pred_seq, pred_ns), timings


def test_end_to_end_is_matched_by_seq_and_ignores_duplicates_and_strays() -> None:
    phase, _ = _phase()
    seqs, _ = phase.matched()
    np.testing.assert_array_equal(seqs, [10, 11, 12, 13, 14, 16, 17, 18, 19])
    latencies = phase.latencies_ns()
    np.testing.assert_array_equal(
        latencies, np.full(9, 100_000 + 2_000 + 3_000_000 + 50_000 + 120_000)
    )
    assert phase.achieved_rate_hz() == pytest.approx(1000.0)


def test_stages_add_up_to_end_to_end_over_the_decoded_frames() -> None:
    phase, timings = _phase()
    stages = stage_latencies(phase, timings)
    assert set(stages) == {*STAGES, "decoder"}
    expected = {"receive": 100_000, "preprocess": 2_000, "inference": 3_000_000, "publish": 170_000}
    for name, value in expected.items():
        assert stages[name].size == 9, name  # the skipped frame is left out of every stage
        assert np.all(stages[name] == value), name
    np.testing.assert_array_equal(stages["decoder"], np.full(9, 3_052_000))
    total = sum(stages[name] for name in STAGES)
    np.testing.assert_array_equal(total, phase.latencies_ns())


def test_backlog_trend_separates_steady_from_growing_latency() -> None:
    steady = np.full(400, 1_000_000, dtype=np.int64)
    growing = np.linspace(1_000_000, 50_000_000, 400).astype(np.int64)
    assert backlog_trend(steady) == pytest.approx(1.0)
    # nearest-rank medians of each quarter (100 samples): the 50th, samples 49 and 349
    step = 49 / 399
    assert backlog_trend(growing) == pytest.approx((1 + 349 * step) / (1 + 49 * step), rel=0.01)
    assert np.isnan(backlog_trend(steady[:5]))


def test_a_ceiling_step_with_drops_is_not_sustained() -> None:
    send = np.arange(1000, dtype=np.int64) * 1_000_000
    everything = Phase(0, send, np.arange(1000), send + 200_000)
    assert step_result(everything, 1000.0)["sustained"]
    one_in_a_hundred = Phase(0, send[:100], np.arange(1, 100), send[1:100] + 200_000)
    assert step_result(one_in_a_hundred, 1000.0)["sustained"]
    two_in_a_hundred = Phase(0, send[:100], np.arange(2, 100), send[2:100] + 200_000)
    assert not step_result(two_in_a_hundred, 1000.0)["sustained"]
    half = Phase(0, send, np.arange(0, 1000, 2), send[::2] + 200_000)
    result = step_result(half, 1000.0)
    assert not result["sustained"] and result["dropped_fraction"] == pytest.approx(0.5)
    growing = Phase(0, send, np.arange(1000), send + np.arange(1000) * 100_000)
    assert not step_result(growing, 1000.0)["sustained"]
    # at 20 Hz, a median moving from 10 to 30 ms is scheduling noise, not a backlog
    slow = np.arange(100, dtype=np.int64) * 50_000_000
    jittery = Phase(0, slow, np.arange(100), slow + np.repeat([10, 20, 20, 30], 25) * 1_000_000)
    result = step_result(jittery, 20.0)
    assert result["backlog_trend"] == pytest.approx(3.0) and result["sustained"]


def test_session_timings_come_from_the_session_file_the_decoder_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.h5"
    session = SessionFile(path)
    session.open(("forward", "reversal"))
    for seq in range(4):
        session.record_frame(
            FrameTiming(seq, 0.1 * seq, -1, 10 + seq, 20 + seq, 30 + seq, 40 + seq)
        )
    session.close()
    got = read_timings(path)
    assert set(got) == set(TIMING_COLUMNS)
    np.testing.assert_array_equal(got["seq"], np.arange(4))
    np.testing.assert_array_equal(got["published_ns"] - got["recv_ns"], np.full(4, 30))
    assert all(column.dtype == np.int64 for column in got.values())


def test_a_file_that_is_no_session_file_is_named(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "s.h5", "w") as handle:
        handle.create_dataset("seq", data=np.arange(3))
    with pytest.raises(BenchError, match="not an rtdecode session file"):
        read_timings(tmp_path / "s.h5")
    with pytest.raises(BenchError, match="no session file"):
        read_timings(tmp_path / "missing.h5")
