"""Human-readable run summaries and the live status line, shared by ``run`` and ``demo``."""

from __future__ import annotations

from typing import Any

from rtdecode.live import StreamProcessor

__all__ = [
    "format_run_summary",
    "format_status",
    "format_streams_summary",
    "format_summary",
    "format_trigger_summary",
]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e3:.3f}"


def _source_stats(stats: dict[str, Any]) -> list[str]:
    """One line of the source's own health figures, when it has some."""
    if not stats:
        return []
    shown = (
        f"{k.replace('_', ' ')} {v:.3g}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
        for k, v in stats.items()
    )
    return ["source: " + "  ".join(shown)]


def _drop_split(summary: dict[str, Any]) -> str:
    """Where the dropped frames went, when the stream had a fair share (several streams)."""
    if "dropped_oldest" not in summary:
        return ""
    return (
        f" (oldest dropped by the stream's bound {summary['dropped_oldest']}, "
        f"in transport {summary.get('dropped_in_transport', 0)})"
    )


def format_run_summary(summary: dict[str, Any]) -> str:
    """A run's summary: one stream's, or several streams' with their totals."""
    return format_streams_summary(summary) if "streams" in summary else format_summary(summary)


def format_summary(summary: dict[str, Any]) -> str:
    """One stream's end-of-run summary: counters, latency percentiles per stage in ms, and
    the trigger's block when the loop was closed."""
    malformed = summary["malformed"]
    failed = summary.get("sinks_failed", {})
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(malformed.items())) if malformed else "none"
    lines = [
        f"source {summary['source']}, engine {summary['engine']}, "
        f"{summary['duration_s']:.1f} s, {summary['frames_per_s']:.1f} frames/s",
        f"frames {summary['frames']}  predictions {summary['predictions']}  "
        f"skipped (behind) {summary['skipped']}  window filling {summary['warming']}",
        f"dropped frames {summary['missing_frames']} in {summary['gaps']} gaps"
        + _drop_split(summary)
        + "  "
        f"NaN/inf values {summary['nan_values']}  resets {summary['resets']}  "
        f"producer restarts {summary['restarts']}",
        f"duplicate frames dropped {summary.get('duplicates', 0)}  late (reordered) frames "
        f"dropped {summary.get('late', 0)}  frame times not increasing "
        f"{summary.get('time_backwards', 0)}",
        f"malformed messages {summary['malformed_total']} ({reasons})",
        *_behavior_lines(summary.get("behavior")),
        *_calibration_lines(summary.get("calibration")),
        *(f"sink {uri} FAILED and was dropped: {error}" for uri, error in failed.items()),
        *_source_stats(summary.get("source_stats") or {}),
        f"{'latency (ms)':<22}{'p50':>9}{'p99':>9}{'p99.9':>9}{'max':>9}{'count':>9}",
    ]
    names = {
        "preprocess": "receive->preprocessed",
        "infer": "inference",
        "publish": "publish",
        "total": "decoder total",
        "overhead": "total less inference",
        "transport": "producer->received",
        "skipped": "skipped->next pred",
    }
    for stage, stats in summary["latency_us"].items():
        if not stats["count"]:
            continue
        lines.append(
            f"{names.get(stage, stage):<22}{_ms(stats['p50']):>9}{_ms(stats['p99']):>9}"
            f"{_ms(stats['p99.9']):>9}{_ms(stats['max']):>9}{stats['count']:>9}"
        )
    if "trigger" in summary:
        lines.append(format_trigger_summary(summary["trigger"]))
    return "\n".join(lines)


def format_streams_summary(summary: dict[str, Any]) -> str:
    """The summary of several streams decoded in one process: each stream's, then the totals."""
    blocks = []
    for stream in summary["streams"]:
        failed = [f"FAILED and stopped: {stream['failed']}"] if stream["failed"] else []
        blocks.append(
            "\n".join([f"== stream {stream['stream']} ==", *failed, format_summary(stream)])
        )
    batches = ", ".join(f"{n} of {size}" for size, n in summary["batches"].items()) or "none"
    blocks.append(
        f"== {len(summary['streams'])} streams, engine {summary['engine']}, "
        f"{summary['duration_s']:.1f} s: frames {summary['frames']}  predictions "
        f"{summary['predictions']}  skipped {summary['skipped']}  dropped "
        f"{summary['missing_frames']}{_drop_split(summary)}  malformed "
        f"{summary['malformed_total']}  failed "
        f"{len(summary['failed'])}  batches decoded (windows): {batches}"
    )
    return "\n".join(blocks)


def _behavior_lines(behavior: dict[str, Any] | None) -> list[str]:
    """Summary lines for the tracked behaviour (none when the run had no behaviour track)."""
    if behavior is None:
        return []
    if not behavior["samples"] and not behavior["malformed_total"]:
        return [f"behavior none received from {behavior['source']}"]
    malformed = behavior["malformed"]
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(malformed.items())) if malformed else "none"
    return [
        f"behavior {behavior['samples']} samples  lost {behavior['lost']}  late "
        f"{behavior['late']}  out of order {behavior['out_of_order']}  restarts "
        f"{behavior['restarts']}  malformed {behavior['malformed_total']} ({reasons})",
        f"behavior targets (max age {behavior['max_age_s']:g} s): aligned "
        f"{behavior['frames_aligned']}  missing {behavior['frames_missing']}  untracked "
        f"{behavior['frames_untracked']}",
    ]


def _calibration_lines(calibration: dict[str, Any] | None) -> list[str]:
    """Which head decoded and why (none when self-calibration was off)."""
    if calibration is None:
        return []

    def score(key: str) -> str:
        value = calibration[key]
        return "-" if value is None else f"{value:.3f}"

    line = (
        f"calibration: head {calibration['chosen']} ({calibration['reason']}); held-back AUROC "
        f"head {score('head_score')}, shipped {score('shipped_score')}; {calibration['frames']} "
        f"frames ({calibration['collected_s']:.0f} of {calibration['seconds']:g} s with "
        f"behaviour), {calibration['head_predictions']} predictions by the calibrated head"
        + (f", from {calibration['from']}" if calibration["from"] else "")
    )
    return [line, *_fused_line(calibration)]


def _fused_line(calibration: dict[str, Any]) -> list[str]:
    """Whether the fused decision decided, with which part, and why (none when it was off)."""
    part = calibration.get("fused_part")
    if part is None:
        return []
    decided = calibration.get("decides") == "fused"
    why = calibration.get("fused_reason") or "the period did not end"
    return [
        f"fused decision ({part}): "
        + (f"decided {calibration['fused_predictions']} predictions" if decided else "not used")
        + f" ({why})"
    ]


def format_status(pipeline: StreamProcessor, rate: float) -> str:
    """One status line: frames/s, drops, the current state and latency."""
    total = pipeline.latency["total"]
    p99 = f"{total.percentile(99) / 1e6:.2f} ms" if total.count else "-"
    track = pipeline.behavior
    behavior = (
        ""
        if track is None or not (track.samples or track.malformed)
        else f"  behavior {track.samples} ({track.frames_missing + track.frames_untracked} "
        "frames unaligned)"
    )
    calibration = "" if pipeline.calibration is None else f"  {pipeline.calibration.status()}"
    return (
        f"{pipeline.frames} frames ({rate:.1f}/s)  drops {pipeline.summary()['missing_frames']}  "
        f"skipped {pipeline.skipped}  malformed {sum(pipeline.source.malformed.values())}  "
        f"state {pipeline.last_state or '-'}  latency p99 {p99}{behavior}{calibration}"
    )


def format_trigger_summary(summary: dict[str, Any]) -> str:
    """Pulses, suppressed by reason, arm/disarm events and trigger latency, for the console."""
    events = summary["events"]

    def part(kind: str) -> str:
        counts = events.get(kind, {})
        return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"

    mode = "dry run" if summary["dry_run"] else "armed" if summary["armed"] else "disarmed"
    lines = [
        f"trigger ({mode} at the end{', sham ' + summary['sham'] if summary['sham'] else ''}): "
        f"pulses {summary['pulses']} ({summary['light_s']:.2f} s light)  "
        f"suppressed: {part('suppressed')}",
        f"arm: {part('arm')}  disarm: {part('disarm')}",
    ]
    for name, label in (("trigger", "frame received->written"), ("added", "decision->written")):
        stats = summary["latency_us"][name]
        if stats["count"]:
            lines.append(
                f"trigger {label} (ms) p50 {stats['p50'] / 1e3:.3f}  p99 {stats['p99'] / 1e3:.3f}  "
                f"p99.9 {stats['p99.9'] / 1e3:.3f}  max {stats['max'] / 1e3:.3f}  n {stats['count']}"
            )
    return "\n".join(lines)
