"""Latency CDFs per engine and a per-stage breakdown, drawn to a PNG (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rtdecode._optional import import_optional
from rtdecode.bench._analysis import STAGES

__all__ = ["Samples", "plot_results"]

Samples = dict[tuple[str, int, float], np.ndarray]
"""End-to-end latencies in ns keyed by ``(path, neurons, rate_hz)``; path ``"bare hop"``, an engine,
or ``"ENGINE xK PHASE"`` (K streams into one decoder, pooled over them)."""

_STAGE_COLOURS = ("#9ecae1", "#fdae6b", "#e6550d", "#74c476")


def _cdf(ax: Any, samples_ns: np.ndarray, **style: Any) -> None:
    ms = np.sort(samples_ns) / 1e6
    ax.plot(ms, np.arange(1, ms.size + 1) / ms.size, drawstyle="steps-post", **style)


def plot_results(results: dict[str, Any], samples: Samples, path: Path) -> Path:
    """Draw the benchmark's figure and save it as a PNG.

    Top: one panel per neuron count (rows) and rate (columns) with the end-to-end latency CDF of
    every engine on a log time axis, the bare ZMQ hop dashed, and the deadline in red. Bottom: the median of
    every stage stacked per engine and rate, labelled with the end-to-end p50 and p99.
    """
    import_optional("matplotlib", "plot", "rtdecode bench --plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    neurons = list(dict.fromkeys(h["neurons"] for h in results["hops"]))
    rates = list(dict.fromkeys(h["rate_hz"] for h in results["hops"]))
    engines = sorted({e["engine"] for e in results["engines"]})
    engines += sorted({key[0] for key in samples} - {"bare hop", *engines})  # "numba x8 locked"
    palette = plt.get_cmap("tab10")
    shades = [i for i in range(10) if i != 3]  # tab10 index 3 is the deadline's red
    colours = {engine: palette(shades[i % 9]) for i, engine in enumerate(engines)}
    deadline_ms = results["settings"]["deadline_ms"]
    rows = _stage_rows(results)
    n_cols, n_rows = max(len(rates), 1), max(len(neurons), 1)
    bar_height = 0.6 + 0.3 * max(len(rows), 2)
    figure = plt.figure(
        figsize=(max(6.0, 4.6 * n_cols), 3.2 * n_rows + bar_height + 0.6), layout="constrained"
    )
    grid = figure.add_gridspec(n_rows + 1, n_cols, height_ratios=(*[3.0] * n_rows, bar_height))
    first_ax = None
    for row, n in enumerate(neurons):
        for col, rate in enumerate(rates):
            ax = figure.add_subplot(grid[row, col], sharex=first_ax, sharey=first_ax)
            first_ax = first_ax or ax
            hop = samples.get(("bare hop", n, rate))
            if hop is not None and hop.size:
                _cdf(ax, hop, color="0.4", linestyle="--", label="bare ZMQ hop")
            for engine in engines:
                got = samples.get((engine, n, rate))
                if got is not None and got.size:
                    _cdf(ax, got, color=colours[engine], linewidth=2, label=engine)
            ax.axvline(deadline_ms, color="red", linewidth=1, label=f"deadline {deadline_ms:g} ms")
            ax.set_xscale("log")
            ax.set_ylim(0, 1.005)
            ax.set_title(f"{n} neurons at {rate:g} Hz")
            ax.grid(True, which="both", alpha=0.3)
            if row == n_rows - 1:
                ax.set_xlabel("send -> receive latency (ms, log scale)")
            if col == 0:
                ax.set_ylabel("fraction of frames")
            if row == col == 0:
                ax.legend(loc="lower right", fontsize=8)
    _stage_bars(figure.add_subplot(grid[n_rows, :]), rows)
    figure.suptitle(f"rtdecode bench on {results['environment']['cpu_model']}", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _stage_rows(results: dict[str, Any]) -> list[tuple[str, int, dict[str, Any]]]:
    """(engine label, neurons, rate result) of every rate with stage timings; several streams
    pooled over them."""
    return [
        (e["engine"], e["neurons"], r)
        for e in results["engines"]
        if e.get("streams", 1) == 1
        for r in e.get("rates", [])
        if r.get("stages_us")
    ] + [  # several streams: pooled over them
        (f"{e['engine']} x{e['streams']} {r['phase']}", e["neurons"], {**r, **r["all_streams"]})
        for e in results["engines"]
        if e.get("streams", 1) > 1
        for r in e.get("rates", [])
        if r["all_streams"].get("stages_us")
    ]


def _stage_bars(ax: Any, rows: list[tuple[str, int, dict[str, Any]]]) -> None:
    """The bottom panel: the median of every stage stacked per engine and rate."""
    if rows:
        labels = [f"{engine} n={n} {r['rate_hz']:g} Hz" for engine, n, r in rows]
        left = np.zeros(len(rows))
        for stage, colour in zip(STAGES, _STAGE_COLOURS, strict=True):
            medians = np.array(
                [(r["stages_us"].get(stage) or {}).get("p50", 0.0) / 1e3 for _, _, r in rows]
            )
            ax.barh(labels, medians, left=left, color=colour, label=stage)
            left += medians
        for y, (_, _, r) in enumerate(rows):
            e2e = r["end_to_end_us"] or {}
            ax.annotate(
                f"  e2e p50 {e2e.get('p50', np.nan) / 1e3:.2f} / p99 {e2e.get('p99', np.nan) / 1e3:.1f} ms",
                (left[y], y),
                va="center",
                fontsize=8,
            )
        ax.set_xlim(0, 1.6 * max(float(left.max()), 1e-3))
        ax.invert_yaxis()
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    else:
        ax.text(
            0.5, 0.5, "no decoder stage timings (see notes in the JSON)", ha="center", va="center"
        )
        ax.set_yticks([])
    ax.set_xlabel("median time per stage (ms), stacked")
    ax.set_title("where the time goes")
