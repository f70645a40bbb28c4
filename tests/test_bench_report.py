"""The summary table: every measured row, failures and notes reach the user."""

from __future__ import annotations

from typing import Any

from rtdecode.bench import format_table
from rtdecode.bench._env import capture_environment


def _stats(p50_us: float) -> dict[str, float | int]:
    return {"count": 100, "p50": p50_us, "p90": 2 * p50_us, "p99": 3 * p50_us, "p99_9": 4 * p50_us,
            "max": 1_500_000.0, "mean": p50_us, "jitter": 1.0}  # fmt: skip


def _results() -> dict[str, Any]:
    rate = {
        "rate_hz": 10.0, "frames_sent": 100, "predictions": 97, "dropped": 3, "deadline_misses": 5,
        "end_to_end_us": _stats(4000.0), "overhead_ratio": {"p50": 10.0, "p99": 7.5},
        "stages_us": {"inference": _stats(3000.0), "decoder": _stats(3500.0)}, "cpu_percent": 42.0,
    }  # fmt: skip
    ok = {
        "engine": "onnx", "neurons": 150, "rates": [rate], "startup_s": 12.5, "peak_rss_mib": 600.0,
        "rss_growth_mib": 0.25, "ceiling_hz": 50.0, "error": None,
        "ceiling_steps": [
            {"rate_hz": 50.0, "sustained": True},
            {"rate_hz": 100.0, "sustained": False, "achieved_rate_hz": 99.9,
             "dropped_fraction": 0.2, "backlog_trend": 1.1},
        ],
        "decoder_summary": {"frames": 400, "predictions": 300, "skipped": 40, "malformed_total": 0},
    }  # fmt: skip
    failed = {"engine": "torch", "neurons": 150, "error": "the decoder exited early: boom"}
    return {
        "settings": {"deadline_ms": 10.0},
        "environment": capture_environment({"decoder_env": {"OMP_NUM_THREADS": "1"}}),
        "hops": [{"neurons": 150, "rate_hz": 10.0, "latency_us": _stats(400.0)}],
        "engines": [ok, failed],
        "missing": ["engine 'cuda' skipped by --engine all: no GPU"],
    }


def test_table_shows_hop_engine_rows_ceiling_failures_and_notes() -> None:
    table = format_table(_results())
    lines = table.splitlines()
    hop = next(line for line in lines if line.startswith("bare hop"))
    assert hop.split()[2:5] == ["150", "10Hz", "0.400"]
    onnx = next(line for line in lines if line.startswith("onnx"))
    assert "4.000" in onnx and "1500" in onnx  # p50 and a max over a second stay in columns
    assert "10.0/7.5" in onnx and onnx.split()[-3:] == ["3", "5", "42"]
    assert "ceiling >= 50 Hz (at 100 Hz: sent 100/s, 20.0% dropped" in table
    assert "skipped 40" in table
    assert "torch n=150: FAILED: the decoder exited early: boom" in table
    assert "OMP_NUM_THREADS=1" in table and "note: engine 'cuda' skipped" in table
    widths = {len(line) for line in lines if line.startswith(("bare hop", "onnx"))}
    assert max(widths) <= 120


def _arm(name: str, decoder_p50_us: float) -> dict[str, Any]:
    rate = {"rate_hz": 10.0, "stages_us": {"decoder": _stats(decoder_p50_us)}}
    return {"engine": name, "neurons": 150, "rates": [rate]}


def test_the_view_cost_is_reported_for_each_order_and_for_both() -> None:
    from rtdecode.bench._report import format_view_row
    from rtdecode.bench._runner import view_cost

    # without 1 ms then with 2 ms (x2); with 1.5 ms then without 3 ms (x0.5): a drift that
    # favours whichever runs second cancels in the geometric mean (x1)
    arms = [_arm("numba", 1000.0), _arm("numba+view", 2000.0),
            _arm("numba+view#2", 1500.0), _arm("numba#2", 3000.0)]  # fmt: skip
    rows = view_cost(arms)
    by_pass = {row["pass"]: row for row in rows}
    assert set(by_pass) == {1, 2, "both"}
    assert by_pass[1]["p99_ratio"] == 2.0 and by_pass[2]["p99_ratio"] == 0.5
    assert by_pass["both"]["p99_ratio"] == 1.0
    lines = [format_view_row(row) for row in rows]
    assert "(without first)" in lines[0] and "x2.0" in lines[0]
    assert "(with first)" in lines[1] and "x0.5" in lines[1]
    assert "both passes (geometric mean): decoder-added p99 x1.0" in lines[2]


def test_a_view_pass_that_failed_leaves_the_other_without_a_mean() -> None:
    from rtdecode.bench._runner import view_cost

    failed = {"engine": "numba+view#2", "neurons": 150, "error": "chromium did not start"}
    rows = view_cost([_arm("numba", 1000.0), _arm("numba+view", 1100.0), failed,
                      _arm("numba#2", 1000.0)])  # fmt: skip
    assert [row["pass"] for row in rows] == [1]
    assert rows[0]["p99_ratio"] == 1.1
