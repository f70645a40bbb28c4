"""Assemble the JSON-ready results of hop, engine and ceiling measurements."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from rtdecode.bench._analysis import STAGES, Phase, backlog_trend, quarter_medians, stage_latencies
from rtdecode.bench._peers import BenchError
from rtdecode.bench._session import read_timings
from rtdecode.bench._settings import BenchSettings
from rtdecode.bench._stats import summarize

if TYPE_CHECKING:
    from rtdecode.bench._decoder import DecoderProcess, DecoderUsage

__all__ = [
    "attach_overhead",
    "decoder_summary",
    "engine_result",
    "hop_result",
    "rate_result",
    "step_result",
]

SUSTAINED_MAX_DROPPED = 0.01
"""A ceiling step fails when more than this fraction of its frames got no prediction ..."""
SUSTAINED_MAX_TREND = 2.0
"""... or when its median latency grew from first to last quarter by more than this factor ..."""
SUSTAINED_MAX_GROWTH_FRAMES = 5
"""... and by more than this many frame intervals (so scheduling noise at low rates is no backlog) ..."""
SUSTAINED_MIN_RATE = 0.95
"""... or when the producer reached less than this fraction of the asked rate."""


def _stats(samples_ns: np.ndarray) -> dict[str, float | int] | None:
    stats = summarize(samples_ns)
    return None if stats is None else stats.to_dict()


def _finite(value: float) -> float | None:
    return round(value, 3) if math.isfinite(value) else None


def hop_result(neurons: int, rate_hz: float, phase: Phase) -> dict[str, Any]:
    """The bare ZMQ hop (producer -> consumer) at one rate."""
    latencies = phase.latencies_ns()
    return {
        "neurons": neurons,
        "rate_hz": rate_hz,
        "achieved_rate_hz": round(phase.achieved_rate_hz(), 2),
        "frames_sent": phase.sent,
        "received": int(latencies.size),
        "latency_us": _stats(latencies),
    }


def step_result(step: Phase, rate_hz: float) -> dict[str, Any]:
    """One step of the throughput-ceiling search, and whether the decoder sustained it."""
    latencies = step.latencies_ns()
    missing = step.sent - latencies.size
    dropped = missing / max(step.sent, 1)
    trend = backlog_trend(latencies)
    first, last = quarter_medians(latencies)
    growing = (
        trend > SUSTAINED_MAX_TREND and last - first > SUSTAINED_MAX_GROWTH_FRAMES * 1e9 / rate_hz
    )
    achieved = step.achieved_rate_hz()
    sustained = (
        missing <= int(SUSTAINED_MAX_DROPPED * step.sent + 1e-9)
        and not growing
        and achieved >= SUSTAINED_MIN_RATE * rate_hz
    )
    return {
        "rate_hz": rate_hz,
        "achieved_rate_hz": round(achieved, 2),
        "frames_sent": step.sent,
        "predictions": int(latencies.size),
        "dropped_fraction": round(dropped, 5),
        "backlog_trend": _finite(trend),
        "latency_p50_us": _finite(float(np.median(latencies)) / 1e3) if latencies.size else None,
        "sustained": bool(sustained),
    }


def rate_result(
    phase: Phase,
    rate_hz: float,
    cpu_percent: float,
    rss_growth_mib: float,
    timings: dict[str, np.ndarray] | None,
    deadline_ms: float,
) -> dict[str, Any]:
    """What one phase of one decoder gave: counts, end-to-end and per-stage latency, CPU use."""
    latencies = phase.latencies_ns()
    stages = stage_latencies(phase, timings) if timings is not None else {}
    return {
        "rate_hz": rate_hz,
        "achieved_rate_hz": round(phase.achieved_rate_hz(), 2),
        "frames_sent": phase.sent,
        "predictions": int(latencies.size),
        "dropped": phase.sent - int(latencies.size),
        "deadline_misses": int(np.count_nonzero(latencies > deadline_ms * 1e6)),
        "end_to_end_us": _stats(latencies),
        "stages_us": {
            name: _stats(stages[name]) for name in (*STAGES, "decoder") if name in stages
        },
        "backlog_trend": _finite(backlog_trend(latencies)),
        "cpu_percent": round(cpu_percent, 1),
        "rss_growth_mib": round(rss_growth_mib, 2),
    }


def decoder_summary(decoder: DecoderProcess, errors: list[str]) -> dict[str, Any] | None:
    """The decoder's own end-of-run summary, or ``None`` with the reason added to ``errors``."""
    try:
        return decoder.summary()
    except BenchError as exc:
        errors.append(str(exc))
        return None


def engine_result(
    *,
    engine: str,
    neurons: int,
    decoder: DecoderProcess,
    exit_code: int,
    startup_s: float,
    phases: dict[float, tuple[Phase, float, float]],
    steps: list[Phase],
    usage: tuple[DecoderUsage, DecoderUsage],
    settings: BenchSettings,
) -> dict[str, Any]:
    """Everything measured for one engine and neuron count, from one decoder process."""
    errors: list[str] = []
    timings = None
    try:
        timings = read_timings(decoder.session_path)
    except BenchError as exc:
        errors.append(str(exc))
    summary = decoder_summary(decoder, errors)
    step_results = [
        step_result(step, rate)
        for step, (rate, _) in zip(steps, settings.ceiling_steps(), strict=False)
    ]
    sustained = [r["rate_hz"] for r in step_results if r["sustained"]]
    first, last = usage
    peak = last.peak_rss_bytes
    return {
        "engine": engine,
        "neurons": neurons,
        "exit_code": exit_code,
        "startup_s": round(startup_s, 2),
        "command": ["rtdecode", *decoder.command[3:]],
        "rates": [
            rate_result(phase, rate, cpu, growth, timings, settings.deadline_ms)
            for rate, (phase, cpu, growth) in phases.items()
        ],
        "ceiling_hz": max(sustained) if sustained else None,
        "ceiling_steps": step_results,
        "rss_mib": round(first.rss_bytes / 2**20, 1),
        "rss_growth_mib": round((last.rss_bytes - first.rss_bytes) / 2**20, 2),
        "rss_slope_mib_per_min": _finite(decoder.rss_slope_mib_per_min() or float("nan")),
        "peak_rss_mib": None if peak is None else round(peak / 2**20, 1),
        "decoder_summary": summary,
        "error": "; ".join(errors) or None,
    }


def attach_overhead(engines: list[dict[str, Any]], hops: list[dict[str, Any]]) -> None:
    """Add ``overhead_ratio`` (end-to-end over bare hop at p50 and p99) to every rate result,
    and to every stream's row of a several-stream result (over the bare hop of as many streams,
    in the same phase)."""
    by_key = {
        (h["neurons"], h["rate_hz"], h.get("streams", 1), h.get("phase", "locked")): h["latency_us"]
        for h in hops
    }
    for engine in engines:
        for rate in engine.get("rates", []):
            hop = by_key.get(
                (
                    engine["neurons"],
                    rate["rate_hz"],
                    engine.get("streams", 1),
                    rate.get("phase", "locked"),
                )
            )
            for row in rate.get("streams", [rate]):
                e2e = row["end_to_end_us"]
                row["overhead_ratio"] = (
                    None
                    if hop is None or e2e is None
                    else {
                        q: round(e2e[q] / hop[q], 2) if hop[q] > 0 else None for q in ("p50", "p99")
                    }
                )
