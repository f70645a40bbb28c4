"""Results of several streams decoded by one decoder: one row per stream, the worst, all pooled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from rtdecode.bench._analysis import Phase, decoder_counts, stage_latencies
from rtdecode.bench._peers import BenchError
from rtdecode.bench._results import _stats, decoder_summary, rate_result
from rtdecode.bench._session import read_timings
from rtdecode.bench._settings import BenchSettings

if TYPE_CHECKING:
    from rtdecode.bench._decoder import DecoderProcess, DecoderUsage

__all__ = ["streams_hop_result", "streams_rate_result", "streams_result", "worst_stream"]


def streams_hop_result(
    neurons: int, rate_hz: float, phase: str, phases: list[Phase]
) -> dict[str, Any]:
    """The bare ZMQ hop of several streams at once (producer -> consumer), pooled over them."""
    latencies = np.concatenate([p.latencies_ns() for p in phases])
    return {
        "neurons": neurons,
        "rate_hz": rate_hz,
        "streams": len(phases),
        "phase": phase,
        "achieved_rate_hz": round(phases[0].achieved_rate_hz(), 2),
        "frames_sent": sum(p.sent for p in phases),
        "received": int(latencies.size),
        "latency_us": _stats(latencies),
    }


def worst_stream(rows: list[dict[str, Any]]) -> int | None:
    """The stream (1-based) with the highest decoder-added p99; ``None`` when none has one."""
    ranked = [
        (row["stages_us"]["decoder"]["p99"], row["stream"])
        for row in rows
        if (row.get("stages_us") or {}).get("decoder")
    ]
    return max(ranked)[1] if ranked else None


def streams_rate_result(
    phases: list[Phase],
    rate_hz: float,
    phase: str,
    cpu_percent: float,
    rss_growth_mib: float,
    timings: list[dict[str, np.ndarray] | None],
    deadline_ms: float,
) -> dict[str, Any]:
    """One rate and phase of a several-stream decoder: a row per stream, the worst, all pooled.

    Each stream's row is what one stream's rate result holds (``frames_sent, predictions,
    dropped, end_to_end_us, stages_us`` ...) plus ``stream`` (1-based), ``received`` (frames its
    session file holds) and ``skipped`` (of those, not decoded); ``None`` for both without
    the stream's session file.
    """
    rows = []
    stage_ns: dict[str, list[np.ndarray]] = {}
    e2e_ns = []
    for k, (stream_phase, table) in enumerate(zip(phases, timings, strict=True)):
        row = rate_result(stream_phase, rate_hz, cpu_percent, rss_growth_mib, table, deadline_ms)
        del row["cpu_percent"], row["rss_growth_mib"]  # the decoder's, given once below
        received, skipped = decoder_counts(stream_phase, table) if table else (None, None)
        rows.append({"stream": k + 1, "received": received, "skipped": skipped, **row})
        e2e_ns.append(stream_phase.latencies_ns())
        if table is not None:
            for name, latencies in stage_latencies(stream_phase, table).items():
                stage_ns.setdefault(name, []).append(latencies)
    return {
        "rate_hz": rate_hz,
        "phase": phase,
        "cpu_percent": round(cpu_percent, 1),
        "rss_growth_mib": round(rss_growth_mib, 2),
        "streams": rows,
        "worst_stream": worst_stream(rows),
        "all_streams": {
            "frames_sent": sum(r["frames_sent"] for r in rows),
            "predictions": sum(r["predictions"] for r in rows),
            "dropped": sum(r["dropped"] for r in rows),
            "skipped": sum(r["skipped"] or 0 for r in rows),
            "end_to_end_us": _stats(np.concatenate(e2e_ns)),
            "stages_us": {name: _stats(np.concatenate(got)) for name, got in stage_ns.items()},
        },
    }


def streams_result(
    *,
    engine: str,
    neurons: int,
    decoder: DecoderProcess,
    exit_code: int,
    startup_s: float,
    phases: dict[tuple[float, str], tuple[list[Phase], float, float]],
    usage: tuple[DecoderUsage, DecoderUsage],
    settings: BenchSettings,
) -> dict[str, Any]:
    """Everything measured for one engine, neuron count and stream count, from one decoder."""
    errors: list[str] = []
    timings: list[dict[str, np.ndarray] | None] = []
    for path in decoder.session_paths:
        try:
            timings.append(read_timings(path))
        except BenchError as exc:
            timings.append(None)
            errors.append(str(exc))
    summary = decoder_summary(decoder, errors)
    first, last = usage
    peak = last.peak_rss_bytes
    return {
        "engine": engine,
        "neurons": neurons,
        "streams": len(decoder.session_paths),
        "exit_code": exit_code,
        "startup_s": round(startup_s, 2),
        "command": ["rtdecode", *decoder.command[3:]],
        "rates": [
            streams_rate_result(
                stream_phases, rate, phase, cpu, growth, timings, settings.deadline_ms
            )
            for (rate, phase), (stream_phases, cpu, growth) in phases.items()
        ],
        "ceiling_hz": None,
        "ceiling_steps": [],
        "rss_mib": round(first.rss_bytes / 2**20, 1),
        "rss_growth_mib": round((last.rss_bytes - first.rss_bytes) / 2**20, 2),
        "peak_rss_mib": None if peak is None else round(peak / 2**20, 1),
        "decoder_summary": summary,
        "error": "; ".join(errors) or None,
    }
