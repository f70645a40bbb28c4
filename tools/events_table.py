"""Markdown tables of event scores (onsets caught, false triggers, lag) from eval reports.

    python tools/events_table.py docs/results/events/lowo.json
    python tools/events_table.py docs/results/events/lowo-calibrate.json --seconds 180

Each JSON is a report of ``rtdecode eval --protocol lowo --json`` (rows: the decoder with
identities, without them, and the velocity-only trigger) or of ``rtdecode eval --calibrate``
(rows: per method and identities setting at ``--seconds``, and the velocity-only trigger).
One row per animal and decoder, then the means over animals.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from rtdecode.calibration._simulate import METHODS

COLUMNS = (
    ("catch_all_1.2s", "all +1.2 s"),
    ("catch_all_2.4s", "all +2.4 s"),
    ("catch_sustained_1.2s", "sustained +1.2 s"),
    ("catch_sustained_2.4s", "sustained +2.4 s"),
    ("false_per_min_1.2s", "false/min +1.2 s"),
    ("false_per_min_2.4s", "false/min +2.4 s"),
    ("lag_median_all_2.4s", "median lag s (all, +2.4 s; mean row: mean of medians)"),
)


def _groups(
    report: dict[str, Any], seconds: float, methods: tuple[str, ...]
) -> list[tuple[str, list[dict[str, Any]]]]:
    """(decoder name, per-animal entries) in the report."""
    if "table" in report:  # rtdecode eval --calibrate
        groups = []
        for method in methods:
            for labels in (False, True):
                rows = [
                    e
                    for e in report["recordings"]
                    if e["method"] == method and e["labels"] == labels and e["seconds"] == seconds
                ]
                if rows:
                    ids = "with identities" if labels else "no identities"
                    groups.append((f"{method}, {ids}", rows))
        velocity = report.get("velocity_baseline", {}).get(f"{seconds:g}")
        if velocity:
            groups.append(("velocity only", velocity["recordings"]))
        return groups
    has_ids = "without_labels" in report
    groups = [("with identities" if has_ids else "decoder", report["recordings"])]
    if has_ids:
        groups.append(("no identities", report["without_labels"]["recordings"]))
    if report.get("velocity_baseline"):
        groups.append(("velocity only", report["velocity_baseline"]["recordings"]))
    return groups


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2f}"


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None and not math.isnan(r[key])]
    return sum(values) / len(values) if values else None


def table(report: dict[str, Any], seconds: float, methods: tuple[str, ...] = METHODS) -> str:
    """The markdown table of one report (``methods``: which ``--calibrate`` methods)."""
    head = "| animal | decoder | onsets all / sustained | " + " | ".join(c for _, c in COLUMNS)
    lines = [head + " |", "|---" * (len(COLUMNS) + 3) + "|"]
    groups = _groups(report, seconds, methods)
    for name, rows in groups:
        for r in rows:
            cells = " | ".join(_cell(r.get(k)) for k, _ in COLUMNS)
            onsets = f"{r['onsets_all']} / {r['onsets_sustained']}"
            lines.append(f"| {r['id']} | {name} | {onsets} | {cells} |")
    for name, rows in groups:
        cells = " | ".join(f"**{_cell(_mean(rows, k))}**" for k, _ in COLUMNS)
        onsets = (
            f"{sum(r['onsets_all'] for r in rows)} / {sum(r['onsets_sustained'] for r in rows)}"
        )
        lines.append(f"| **mean** | {name} | {onsets} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reports", type=Path, nargs="+")
    parser.add_argument("--seconds", type=float, default=180.0, help="calibration length")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help="--calibrate methods to show, in order"
    )
    args = parser.parse_args()
    methods = tuple(m for m in args.methods.split(",") if m)
    for path in args.reports:
        report = json.loads(path.read_text())
        print(f"<!-- {path} -->\n{table(report, args.seconds, methods)}\n")


if __name__ == "__main__":
    main()
