"""Markdown tables (balanced accuracy, AUROC, F1, onset lag) from LOWO reports.

    python tools/results_table.py results/lowo/*.json > table.md

Each JSON is a report written by ``rtdecode eval --protocol lowo --json`` or
``tools/lowo_sweep.py``; a report with a ``without_labels`` block gives a second row.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    report = json.loads(path.read_text())
    name = report.get("recipe_name", path.stem)
    rows = [(name + (" (with identities)" if "without_labels" in report else ""), report)]
    if "without_labels" in report:
        rows.append((name + " (no identities)", report["without_labels"]))
    return rows


def main() -> None:
    rows = [row for arg in sys.argv[1:] for row in _rows(Path(arg))]
    if not rows:
        raise SystemExit("usage: results_table.py REPORT.json ...")
    animals = [r["id"] for r in rows[0][1]["recordings"]]
    for metric, label in (
        ("balanced_accuracy", "Balanced accuracy"),
        ("auroc", "AUROC"),
        ("f1", "F1 (reversal)"),
        ("catch_all_2.4s", "Reversal onsets caught by the default trigger policy within +2.4 s"),
        ("catch_sustained_2.4s", "Sustained onsets caught within +2.4 s"),
        ("false_per_min_2.4s", "False triggers per minute (+2.4 s windows)"),
        ("lag_median_all_2.4s", "Median trigger lag from the behavioural onset (s)"),
    ):
        print(f"### {label}\n")
        print("| model | " + " | ".join(animals) + " | mean |")
        print("|---" * (len(animals) + 2) + "|")
        for name, report in rows:
            values = {r["id"]: r.get(metric) for r in report["recordings"]}
            cells = [f"{values[a]:.3f}" if values.get(a) is not None else "-" for a in animals]
            mean = report.get(f"mean_{metric}")
            print(f"| {name} | " + " | ".join(cells) + f" | **{mean:.3f}** |")
        print()


if __name__ == "__main__":
    main()
