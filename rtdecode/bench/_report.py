"""The one-screen summary table printed at the end of ``rtdecode bench``."""

from __future__ import annotations

from typing import Any

from rtdecode.bench._trigger import format_trigger_row

__all__ = ["format_table"]

_HEAD = (
    f"{'path':<10}{'n':>5}{'rate':>8}{'p50':>8}{'p90':>8}{'p99':>8}{'p99.9':>8}{'max':>8}"
    f"{'jitter':>8}{'x hop':>12}{'infer50':>8}{'dec99':>8}{'drops':>7}{'miss':>6}{'cpu%':>6}"
)


_COUNTERS = ("frames", "predictions", "skipped", "warming", "gaps", "malformed_total", "nan_values")


def _ms(stats: dict[str, Any] | None, key: str) -> str:
    if not stats or stats.get(key) is None:
        return f"{'-':>8}"
    ms = stats[key] / 1e3
    decimals = 3 if ms < 10 else 2 if ms < 100 else 1 if ms < 1000 else 0
    return f" {ms:7.{decimals}f}"


def _row(path: str, n: int, rate: float, e2e: dict[str, Any] | None) -> str:
    quantiles = "".join(_ms(e2e, q) for q in ("p50", "p90", "p99", "p99_9", "max", "jitter"))
    return f"{path:<10}{n:>5}{rate:>6g}Hz{quantiles}"


def _engine_row(engine: dict[str, Any], rate: dict[str, Any]) -> str:
    ratio = rate.get("overhead_ratio") or {}
    x_hop = (
        f"{ratio['p50']:.1f}/{ratio['p99']:.1f}"
        if ratio.get("p50") is not None and ratio.get("p99") is not None
        else "-"
    )
    stages = rate.get("stages_us", {})
    return (
        _row(engine["engine"], engine["neurons"], rate["rate_hz"], rate["end_to_end_us"])
        + f"{x_hop:>12}{_ms(stages.get('inference'), 'p50')}{_ms(stages.get('decoder'), 'p99')}"
        + f"{rate['dropped']:>7}{rate['deadline_misses']:>6}{rate['cpu_percent']:>6.0f}"
    )


def _slope(mib_per_min: float | None) -> str:
    return "" if mib_per_min is None else f" (late slope {mib_per_min:+.2f} MiB/min)"


def _ceiling_text(engine: dict[str, Any]) -> str:
    steps = engine.get("ceiling_steps") or []
    if not steps:
        return "ceiling not measured"
    failed = [s for s in steps if not s["sustained"]]
    best = engine.get("ceiling_hz")
    text = f"ceiling >= {best:g} Hz" if best else f"ceiling < {steps[0]['rate_hz']:g} Hz"
    if not failed:
        return text + " (every step sustained)"
    f = failed[0]
    return text + (
        f" (at {f['rate_hz']:g} Hz: sent {f['achieved_rate_hz']:.0f}/s, "
        f"{100 * f['dropped_fraction']:.1f}% dropped, latency trend x{f['backlog_trend']})"
    )


_STREAMS_HEAD = (
    f"{'path':<12}{'n':>5}{'rate':>8} {'phase':<10}{'stream':>6}{'sent':>7}{'preds':>7}"
    f"{'skip':>6}{'drops':>6}{'dec50':>8}{'dec99':>8}{'dec99.9':>8}{'decmax':>8}{'e2e50':>8}"
    f"{'e2e99':>8}{'cpu%':>6}"
)


def _count(value: int | None, width: int) -> str:
    return f"{'-' if value is None else value:>{width}}"


def _streams_row(
    path: str, n: int, rate: dict[str, Any], stream: str, row: dict[str, Any], cpu: str
) -> str:
    decoder = (row.get("stages_us") or {}).get("decoder")
    e2e = row.get("end_to_end_us")
    return (
        f"{path:<12}{n:>5}{rate['rate_hz']:>6g}Hz {rate['phase']:<10}{stream:>6}"
        f"{_count(row.get('frames_sent'), 7)}{_count(row.get('predictions'), 7)}"
        f"{_count(row.get('skipped'), 6)}{_count(row.get('dropped'), 6)}"
        + "".join(_ms(decoder, q) for q in ("p50", "p99", "p99_9", "max"))
        + "".join(_ms(e2e, q) for q in ("p50", "p99"))
        + f"{cpu:>6}"
    )


def _streams_section(results: dict[str, Any], streams: int) -> list[str]:
    """Rows of every measurement of ``streams`` streams into one decoder: the bare hop of as
    many streams, one row per stream, then all streams pooled and the worst one."""
    lines = [f"{streams} streams into one decoder:", _STREAMS_HEAD]
    hops = [h for h in results["hops"] if h.get("streams") == streams]
    engines = [e for e in results["engines"] if e.get("streams") == streams]
    for hop in hops:
        hop_row = {
            "frames_sent": hop["frames_sent"],
            "predictions": hop["received"],  # frames, for the hop
            "end_to_end_us": hop["latency_us"],
        }
        lines.append(_streams_row("bare hop", hop["neurons"], hop, "all", hop_row, ""))
        for engine in engines:
            for rate in engine.get("rates", []):
                if (engine["neurons"], rate["rate_hz"], rate["phase"]) != (
                    hop["neurons"],
                    hop["rate_hz"],
                    hop["phase"],
                ):
                    continue
                name, n = engine["engine"], engine["neurons"]
                for row in rate["streams"]:
                    lines.append(_streams_row(name, n, rate, str(row["stream"]), row, ""))
                cpu = f"{rate['cpu_percent']:.0f}"
                lines.append(_streams_row(name, n, rate, "all", rate["all_streams"], cpu))
                worst = next(
                    (r for r in rate["streams"] if r["stream"] == rate["worst_stream"]), None
                )
                if worst is not None:
                    dec99 = worst["stages_us"]["decoder"]["p99"] / 1e3
                    lines.append(
                        f"{'':<12}worst stream (decoder-added p99): {worst['stream']}, {dec99:.3f} ms"
                    )
    return lines


def _summary_counts(summary: dict[str, Any]) -> dict[str, Any]:
    """The decoder's own counters; with several streams, summed over them."""
    per_stream = summary.get("streams")
    if not isinstance(per_stream, list):
        return summary
    return {
        key: sum(int(s.get(key) or 0) for s in per_stream)
        for key in _COUNTERS
        if any(key in s for s in per_stream)
    }


def format_table(results: dict[str, Any]) -> str:
    """Format a results document as a table that fits one screen (about 110 columns).

    Latencies are in milliseconds; every row is one path at one neuron count and rate.
    """
    env = results["environment"]
    packages = env["packages"]
    lines = [
        f"rtdecode bench | {env['cpu_model']} ({env['cpu_count_usable']} cores) | python "
        f"{env['python']} | torch {packages.get('torch')} | onnxruntime "
        f"{packages.get('onnxruntime')} | git {(env.get('git_sha') or '?')[:10]} | load "
        f"{'/'.join(f'{x:.1f}' for x in env['load_average'])}",
        "latency in ms, producer send -> consumer receive; x hop = that / bare ZMQ hop (p50/p99)"
        + ("; every hop CURVE-encrypted;" if results["settings"].get("curve") else ";"),
        "infer50 = inference p50, dec99 = frame received -> prediction sent p99; "
        f"miss = later than {results['settings']['deadline_ms']:g} ms; cpu% of one core",
    ]
    single_hops = [h for h in results["hops"] if h.get("streams", 1) == 1]
    if single_hops:
        lines += ["", _HEAD]
    engines = [e for e in results["engines"] if e.get("streams", 1) == 1]
    for hop in single_hops:
        n, rate = hop["neurons"], hop["rate_hz"]
        lines.append(_row("bare hop", n, rate, hop["latency_us"]))
        for engine in engines:
            if engine["neurons"] != n:
                continue
            for rate_result in engine.get("rates", []):
                if rate_result["rate_hz"] == rate:
                    lines.append(_engine_row(engine, rate_result))
    for streams in sorted({e.get("streams", 1) for e in results["engines"]} - {1}):
        lines += ["", *_streams_section(results, streams)]
    engines = results["engines"]
    if engines:
        lines += ["", "decoders (ceiling = highest rate without drops or a growing backlog):"]
    for engine in engines:
        streams = engine.get("streams", 1)
        name = f"  {engine['engine']} n={engine['neurons']}" + (
            f" x{streams} streams" if streams > 1 else ""
        )
        if engine.get("error") and not engine.get("rates"):
            lines.append(f"{name}: FAILED: {engine['error']}")
            continue
        lines.append(
            f"{name}: {_ceiling_text(engine)}; startup {engine['startup_s']:.1f} s, "
            f"peak RSS {engine.get('peak_rss_mib')} MiB, {engine.get('rss_growth_mib', 0):+.1f} MiB "
            f"while measured{_slope(engine.get('rss_slope_mib_per_min'))}"
        )
        counters = _summary_counts(engine.get("decoder_summary") or {})
        if counters:
            lines.append(
                "    decoder's own count: "
                + ", ".join(f"{k} {counters.get(k)}" for k in _COUNTERS if k in counters)
            )
        summary = engine.get("decoder_summary") or {}
        if summary.get("batches"):
            lines.append(
                "    batches decoded (windows: count): "
                + ", ".join(f"{size}: {count}" for size, count in summary["batches"].items())
            )
        if summary.get("failed"):
            lines.append(f"    failed streams: {summary['failed']}")
        if engine.get("error"):
            lines.append(f"    warning: {engine['error']}")
    decoder_env = env["engine_settings"].get("decoder_env")
    if decoder_env:
        lines.append("decoder environment: " + " ".join(f"{k}={v}" for k, v in decoder_env.items()))
    if results.get("trigger"):
        lines.append(format_trigger_row(results["trigger"]))
    for row in results.get("view") or []:
        lines.append(format_view_row(row))
    for note in results.get("missing", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def format_view_row(row: dict[str, Any]) -> str:
    """One line of the view's cost: a pass (without then with, or with then without), or the
    geometric mean of both passes' ratios."""
    head = f"view + one browser, {row['engine']} n={row['neurons']} {row['rate_hz']:g} Hz"
    if row.get("pass") == "both":
        return (
            f"{head}, both passes (geometric mean): decoder-added p99 x{row['p99_ratio']}, "
            f"p50 x{row['p50_ratio']}"
        )
    order = "with first" if row.get("pass") == 2 else "without first"
    p50, p99 = row["p50_us"], row["p99_us"]
    return (
        f"{head} ({order}): decoder-added p99 {p99['with_view'] / 1e3:.3f} ms vs "
        f"{p99['without'] / 1e3:.3f} ms without (x{row['p99_ratio']}), p50 "
        f"{p50['with_view'] / 1e3:.3f} vs {p50['without'] / 1e3:.3f} ms (x{row['p50_ratio']})"
    )
