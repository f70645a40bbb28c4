"""Several streams into one decoder: per-stream rows, the worst stream, what reaches the user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rtdecode.bench import BenchSettings, Phase, format_table
from rtdecode.bench._analysis import decoder_counts
from rtdecode.bench._consumer import _Record
from rtdecode.bench._decoder import run_arguments
from rtdecode.bench._env import capture_environment
from rtdecode.bench._peers import new_event
from rtdecode.bench._producer import SEQ_STRIDE
from rtdecode.bench._results import attach_overhead
from rtdecode.bench._runner import _decoder_args
from rtdecode.bench._streams import streams_hop_result, streams_rate_result, worst_stream
from rtdecode.bench._wire import FRAME_TOPIC, PRED_TOPIC

US = 1_000


def _stream(k: int, frames: int = 10, skip: int | None = None) -> tuple[Phase, dict[str, Any]]:
    """Stream ``k`` (0-based): inference takes ``200 * (k + 1)`` us; frame ``skip`` not decoded."""
    first = k * SEQ_STRIDE + 100
    seq = first + np.arange(frames, dtype=np.int64)
    sent = 10**9 + np.arange(frames, dtype=np.int64) * 100_000 * US
    recv = sent + 100 * US
    pre = recv + 50 * US
    inf = pre + 200 * (k + 1) * US
    pub = inf + 20 * US
    if skip is not None:
        inf[skip] = pub[skip] = -1
    decoded = pub > 0
    phase = Phase(first, sent, seq[decoded], pub[decoded] + 100 * US)
    timings = {
        "seq": seq,
        "recv_ns": recv,
        "preprocessed_ns": pre,
        "inferred_ns": inf,
        "published_ns": pub,
    }
    return phase, timings


def _rate() -> dict[str, Any]:
    streams = [_stream(0, skip=3), _stream(1), _stream(2)]
    return streams_rate_result(
        [p for p, _ in streams], 10.0, "locked", 12.5, 0.5, [t for _, t in streams], 10.0
    )


def test_every_stream_gets_its_own_row_with_its_counts_and_decoder_latency() -> None:
    rate = _rate()
    rows = rate["streams"]
    assert [r["stream"] for r in rows] == [1, 2, 3]
    assert [r["frames_sent"] for r in rows] == [10, 10, 10]
    assert [r["received"] for r in rows] == [10, 10, 10]
    assert [r["skipped"] for r in rows] == [1, 0, 0]
    assert [r["predictions"] for r in rows] == [9, 10, 10]
    assert [r["dropped"] for r in rows] == [1, 0, 0]
    assert [r["stages_us"]["decoder"]["p99"] for r in rows] == [270.0, 470.0, 670.0]
    assert rate["worst_stream"] == 3
    pooled = rate["all_streams"]
    assert pooled["frames_sent"] == 30 and pooled["predictions"] == 29 and pooled["skipped"] == 1
    assert pooled["stages_us"]["decoder"]["count"] == 29
    assert pooled["stages_us"]["decoder"]["max"] == 670.0
    assert pooled["stages_us"]["inference"]["p50"] == 400.0
    assert rate["cpu_percent"] == 12.5 and "cpu_percent" not in rows[0]


def test_worst_stream_is_the_highest_decoder_p99_and_none_without_timings() -> None:
    rows = [
        {"stream": 1, "stages_us": {"decoder": {"p99": 900.0}}},
        {"stream": 2, "stages_us": {"decoder": {"p99": 300.0}}},
        {"stream": 3, "stages_us": {}},
    ]
    assert worst_stream(rows) == 1
    assert worst_stream([{"stream": 1, "stages_us": {}}]) is None


def test_decoder_counts_only_the_phases_frames_of_its_own_stream() -> None:
    phase, timings = _stream(1, skip=0)
    other_phase, other = _stream(0)
    merged = {name: np.concatenate([timings[name], other[name]]) for name in timings}
    assert decoder_counts(phase, merged) == (10, 1)
    assert decoder_counts(other_phase, merged) == (10, 0)


def test_each_stream_row_gets_its_ratio_to_the_hop_of_as_many_streams() -> None:
    hop_phases = [_stream(k)[0] for k in range(3)]
    hop = streams_hop_result(150, 10.0, "locked", hop_phases)
    assert hop["streams"] == 3 and hop["frames_sent"] == hop["received"] == 30
    single_hop = {"neurons": 150, "rate_hz": 10.0, "latency_us": {"p50": 1.0, "p99": 1.0}}
    engine = {"engine": "numba", "neurons": 150, "streams": 3, "rates": [_rate()]}
    attach_overhead([engine], [single_hop, hop])
    for row in engine["rates"][0]["streams"]:
        e2e, base = row["end_to_end_us"], hop["latency_us"]
        assert row["overhead_ratio"]["p50"] == round(e2e["p50"] / base["p50"], 2)


def test_table_has_a_row_per_stream_all_streams_and_the_worst() -> None:
    hop = streams_hop_result(150, 10.0, "locked", [_stream(k)[0] for k in range(3)])
    engine = {
        "engine": "numba", "neurons": 150, "streams": 3, "rates": [_rate()], "startup_s": 2.0,
        "peak_rss_mib": 300.0, "rss_growth_mib": 0.1, "ceiling_steps": [], "error": None,
        "decoder_summary": {"streams": [{"frames": 40, "skipped": 1}, {"frames": 40, "skipped": 2}],
                            "batches": {"1": 5, "3": 7}, "failed": {"2": "source closed"}},
    }  # fmt: skip
    results = {
        "settings": {"deadline_ms": 10.0},
        "environment": capture_environment({}),
        "hops": [hop],
        "engines": [engine],
        "missing": [],
    }
    lines = format_table(results).splitlines()
    assert "3 streams into one decoder:" in lines
    rows = [line.split() for line in lines if line.startswith("numba ")]
    assert [r[4] for r in rows] == ["1", "2", "3", "all"]
    assert rows[0][5:9] == ["10", "9", "1", "1"]  # sent, predictions, skipped, dropped
    assert rows[2][10] == "0.670"  # stream 3's decoder-added p99, in ms
    assert rows[3][-1] == "12"  # the decoder's CPU use, once
    assert any("worst stream (decoder-added p99): 3, 0.670 ms" in line for line in lines)
    assert "numba n=150 x3 streams" in "\n".join(lines) and "frames 80, " in "\n".join(lines)
    assert not any(line.startswith("path ") and "jitter" in line for line in lines)
    assert "    batches decoded (windows: count): 1: 5, 3: 7" in lines
    assert any("failed streams" in line and "source closed" in line for line in lines)


def test_decoder_gets_one_source_per_stream_in_order_and_one_sink_set() -> None:
    args = run_arguments(
        "numba", ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"], 7300, Path("s.h5"), Path("s.json")
    )
    assert args[:6] == [
        "rtdecode", "run", "--source", "zmq+tcp://127.0.0.1:1", "--source", "zmq+tcp://127.0.0.1:2"
    ]  # fmt: skip
    assert args.count("--sink") == 2 and "zmq+tcp://127.0.0.1:7300" in args and "s.h5" in args


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ["--quiet"]),
        ({"keep_warm_ms": 5.0}, ["--quiet", "--keep-warm-ms", "5.0"]),
        ({"keep_warm_ms": 0.5, "cpu": 1}, ["--quiet", "--keep-warm-ms", "0.5", "--cpu", "1"]),
        ({"busy_poll": True, "cpu": 0}, ["--quiet", "--busy-poll", "--cpu", "0"]),
    ],
)
def test_bench_passes_idle_options_to_the_decoder(kwargs: dict, expected: list[str]) -> None:
    assert _decoder_args(BenchSettings(**kwargs)) == expected


def test_warm_up_waits_for_every_stream_not_a_total() -> None:
    ready = new_event()
    record = _Record(ready)
    record.arm(PRED_TOPIC, 2, 3)
    for seq in range(10):  # stream 1 alone, however many: not warm
        record.add(PRED_TOPIC, seq, seq)
    record.add(PRED_TOPIC, SEQ_STRIDE, 0)
    record.add(PRED_TOPIC, SEQ_STRIDE + 1, 0)
    record.add(FRAME_TOPIC, 2 * SEQ_STRIDE, 0)  # another topic does not count
    assert not ready.is_set()
    record.add(PRED_TOPIC, 2 * SEQ_STRIDE, 0)
    record.add(PRED_TOPIC, 2 * SEQ_STRIDE + 1, 0)
    assert ready.is_set()
