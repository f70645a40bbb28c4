"""Per-frame and per-event tables of the fused decision and its components (``tools/onset_scores.py``).

Per frame, for each held-out animal and identities setting: AUROC of the reversal state and
balanced accuracy at 0.5, on the frames after calibration, for every component and the fused
score, and the onset AUROC (the first frames of clean onsets against forward frames, as the
onset heads are trained).

Per event (``rtdecode.events.score_fires``): each score fires when it crosses a threshold
upward (it must fall below it again to fire again). The threshold of a held-out animal is
chosen on the other five animals' scores (their own held-out outputs): the threshold with the
most onsets caught (all onsets, +2.4 s) on average over them among those whose mean false
triggers per minute stays within the budget (none within: the fewest false triggers), for
budgets of 0.5 and 1.0 per minute. Catch of all and sustained onsets within +1.2 s and +2.4 s, false per minute.

Prints Markdown tables (per animal, with the mean) and writes them as JSON.

    python tools/onset_study.py --scores .onset-scores --json docs/results/onset/frames.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

NAMES = ("cross", "calibrated", "cross_onset", "animal_onset", "fused")
METRICS = ("auroc", "balanced_accuracy", "onset_auroc")
BUDGETS = (0.5, 1.0)
EVENT_KEYS = ("catch_all_1.2s", "catch_sustained_2.4s", "catch_all_2.4s", "false_per_min_2.4s")
CHOICE_KEY = "catch_all_2.4s"
THRESHOLDS = np.round(np.arange(0.05, 1.0, 0.01), 2)


def _metrics(scores: Any) -> dict[str, dict[str, float]]:
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    from rtdecode.calibration import onset_target

    scored = scores["t"] >= float(scores["scored_from_s"])
    y = scores["reversal"].astype(bool)
    target, care = onset_target(y)
    onset_rows = scored & care
    out = {}
    for name in NAMES:
        p = scores["p"] if name == "fused" else scores[f"p_{name}"]
        out[name] = {
            "auroc": float(roc_auc_score(y[scored], p[scored])),
            "balanced_accuracy": float(balanced_accuracy_score(y[scored], p[scored] >= 0.5)),
            "onset_auroc": float(roc_auc_score(target[onset_rows], p[onset_rows])),
        }
    return out


def _crossings(scores: Any, name: str, threshold: float) -> np.ndarray:
    """Times the score crosses ``threshold`` upward (from below it on the previous frame)."""
    p = scores["p"] if name == "fused" else scores[f"p_{name}"]
    p = np.nan_to_num(p, nan=0.0)
    up = (p[1:] >= threshold) & (p[:-1] < threshold)
    return scores["t"][1:][up]


def _events(scores: Any, name: str, threshold: float) -> dict[str, float]:
    from rtdecode.events import score_fires

    fires = _crossings(scores, name, threshold)
    score = score_fires(fires, scores["t"], scores["reversal"], float(scores["scored_from_s"]))
    return {key: score.as_dict()[key] for key in EVENT_KEYS}


def _event_results(runs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{budget: {name: {id: metrics + threshold}}}`` with thresholds chosen on the others."""
    ids = sorted(runs)
    out: dict[str, dict[str, Any]] = {}
    for name in NAMES:
        grid = {i: [_events(runs[i], name, th) for th in THRESHOLDS] for i in ids}
        for budget in BUDGETS:
            row = out.setdefault(str(budget), {}).setdefault(name, {})
            for i in ids:
                others = [grid[j] for j in ids if j != i]
                false = np.mean([[g["false_per_min_2.4s"] for g in rows] for rows in others], 0)
                catch = np.mean([[g[CHOICE_KEY] for g in rows] for rows in others], 0)
                k = int(np.argmax(np.where(false <= budget, catch, -1.0 - false)))
                row[i] = {**grid[i][k], "threshold": float(THRESHOLDS[k])}
    return out


def _event_table(events: dict[str, Any], key: str, ids: list[str]) -> str:
    lines = ["| identities | budget | score | " + " | ".join(ids) + " | mean |"]
    lines.append("|---" * (len(ids) + 4) + "|")
    for identities, by_budget in events.items():
        for budget, by_name in by_budget.items():
            for name, by_id in by_name.items():
                values = [by_id[i][key] for i in ids]
                cells = " | ".join(f"{v:.2f}" for v in values)
                mean = np.nanmean(values)
                lines.append(f"| {identities} | {budget} | {name} | {cells} | **{mean:.2f}** |")
    return "\n".join(lines)


def _event_means(events: dict[str, Any], ids: list[str]) -> str:
    keys = (*EVENT_KEYS, "threshold")
    lines = ["| identities | budget (false/min) | score | " + " | ".join(keys) + " |"]
    lines.append("|---" * (len(keys) + 3) + "|")
    for identities in sorted(events):
        for budget, by_name in events[identities].items():
            for name, by_id in by_name.items():
                cells = " | ".join(f"{np.nanmean([by_id[i][k] for i in ids]):.2f}" for k in keys)
                lines.append(f"| {identities} | {budget} | {name} | {cells} |")
    return "\n".join(lines)


def _table(results: dict[str, dict[str, Any]], metric: str, ids: list[str]) -> str:
    lines = [
        "| identities | score | " + " | ".join(ids) + " | mean |",
        "|---" * (len(ids) + 3) + "|",
    ]
    for identities in ("no", "yes"):
        if identities not in results:
            continue
        for name in NAMES:
            values = [results[identities][i][name][metric] for i in ids]
            cells = " | ".join(f"{v:.3f}" for v in values)
            lines.append(f"| {identities} | {name} | {cells} | **{np.mean(values):.3f}** |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scores", required=True, type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    results: dict[str, dict[str, Any]] = {}
    runs: dict[str, dict[str, Any]] = {}
    for path in sorted(args.scores.glob("*.npz")):
        with np.load(path) as loaded:
            scores = dict(loaded)
        identities = "yes" if bool(scores["identities"]) else "no"
        rid = path.name.removesuffix(".npz").removesuffix(".ids")
        results.setdefault(identities, {})[rid] = _metrics(scores)
        runs.setdefault(identities, {})[rid] = scores
    ids = sorted(next(iter(results.values())))
    for metric in METRICS:
        print(f"\n#### {metric}\n\n{_table(results, metric, ids)}")
    events = {identities: _event_results(by_id) for identities, by_id in runs.items()}
    print(f"\n#### events, means over animals\n\n{_event_means(events, ids)}")
    for key in (*EVENT_KEYS, "threshold"):
        print(f"\n#### {key}\n\n{_event_table(events, key, ids)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"frames": results, "events": events}, indent=1))


if __name__ == "__main__":
    main()
