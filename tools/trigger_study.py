"""Issue 17's trigger study: every trigger default chosen by nested leave-one-animal-out.

Reads the per-frame scores that ``tools/trigger_scores.py`` caches per held-out animal, and for
each score, identities setting and false-trigger budget ``B`` (0.5 and 1.0 per minute):

* the rule is the armed rule (``rtdecode.policy._armed``) started at the end of the 180 s
  calibration period; scoring (``rtdecode.events.score_fires``) starts there too;
* the threshold is the animal's own, set on its calibration period to ``B``
  (``rtdecode.policy._budget.budget_threshold``), shrunk toward the cross-animal threshold with
  prior evidence ``n0``, or (``n0 = cross``) the cross-animal threshold alone. The cross-animal
  threshold is the lowest at which the training animals' scored periods, pooled, fire at most
  ``B`` false triggers per minute;
* the arming time, refractory period and ``n0`` (and, in the ``chosen`` rows, the score) are
  chosen by nested leave-one-animal-out (``rtdecode.policy._nested``): for each held-out
  animal, an inner leave-one-out over the other five picks the setting with the best mean catch
  whose mean false triggers per minute keep to ``B``; the held-out animal is then scored with
  it. The catch maximised is the target's: sustained onsets within +2.4 s at ``B = 0.5``, all
  onsets within +1.2 s at ``B = 1.0``.

    python tools/trigger_study.py --scores .fold-cache/scores --json docs/results/trigger/study.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from collections.abc import Hashable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.events import SETS, WINDOWS_S
from rtdecode.policy._armed import armed_fires
from rtdecode.policy._budget import own_threshold, scored_minutes, shrink_weight, shrunk_threshold
from rtdecode.policy._nested import Evaluation, choose_setting, nested_lowo
from rtdecode.policy._tally import FrameTally

ARM_S = (0.0, 0.6, 1.2, 2.4, 3.6)
REFRACTORY_S = (0.0, 2.4, 5.0, 10.0, 20.0)
PRIOR_EVIDENCE: tuple[float | str, ...] = (0.0, 1.0, 2.0, 4.0, 8.0, math.inf, "cross")
BUDGETS = {0.5: ("sustained", 2.4), 1.0: ("all", 1.2)}
"""Budget B -> the catch the choice maximises (onset set, window L)."""
IDENTITY_FREE = ("baseline", "velocity")
"""Scores that do not change with identities (tabled once, without)."""
NEURAL = (
    "shipped",
    "calibrated",
    "balanced",
    "baseline",
    "fused",
    "fused_cross",
    "fused_calibrated",
    "fused_cross_onset",
    "fused_animal_onset",
)
"""Scores the ``chosen`` rows choose among (the neural decoder's; velocity is the baseline)."""
_EPS = 1e-4


@dataclass
class Animal:
    """One held-out animal's cached scores and its scorers."""

    id: str
    t: np.ndarray
    reversal: np.ndarray
    end: int  # first scored frame
    scores: dict[str, np.ndarray]
    scored: FrameTally


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def load_animals(folder: Path, kind: str, names: tuple[str, ...]) -> list[Animal]:
    """The cached ``<id>.<kind>.npz`` files, scores in the rule's units (logits, -velocity)."""
    animals = []
    for path in sorted(folder.glob(f"*.{kind}.npz")):
        d = np.load(path)
        t, rev = d["t"], d["reversal"].astype(bool)
        end = int(np.searchsorted(t, float(d["calibration_end_s"])))
        scores = {}
        for name in names:
            s = np.asarray(d[f"score_{name}"], np.float64)
            scores[name] = s if name == "velocity" else _logit(s)
        tally = FrameTally.from_scorer(t, rev, float(t[end]))
        animals.append(Animal(path.name.split(".")[0], t, rev, end, scores, tally))
    if len(animals) < 3:
        raise SystemExit(
            f"{folder}: fewer than 3 '{kind}' score files; run tools/trigger_scores.py"
        )
    return animals


class Study:
    """Curves, thresholds and nested choices over one identities setting's animals."""

    def __init__(self, animals: list[Animal]) -> None:
        self.animals = {a.id: a for a in animals}
        self._cal: dict[tuple[str, float], FrameTally] = {}
        self.curve = lru_cache(maxsize=None)(self._curve)
        self.own = lru_cache(maxsize=None)(self._own)
        self.cross = lru_cache(maxsize=None)(self._cross)
        self.evaluate = lru_cache(maxsize=None)(self._evaluate)

    def _curve(self, aid: str, source: str, arm: float, refr: float) -> dict[str, np.ndarray]:
        """The scored period at each distinct score (and above all): false and caught counts."""
        a = self.animals[aid]
        s = a.scores[source][a.end :]
        uniq = np.unique(s[np.isfinite(s)])
        thresholds = np.append(uniq, np.inf)
        fires = np.zeros((len(thresholds), len(a.t)), bool)
        fires[:, a.end :] = armed_fires(a.t[a.end :], s, thresholds, arm, refr)
        out = {"thresholds": thresholds}
        for L in WINDOWS_S:
            out[f"false_{L}"] = a.scored.false_counts(fires, L)
            for onset_set in SETS:
                out[f"caught_{onset_set}_{L}"] = a.scored.caught(fires, onset_set, L)
        return out

    def at(self, aid: str, source: str, arm: float, refr: float, threshold: float) -> dict:
        """The scored period's figures at any threshold (exact: the next distinct score up)."""
        c = self.curve(aid, source, arm, refr)
        i = int(np.searchsorted(c["thresholds"], threshold, side="left"))
        tally = self.animals[aid].scored
        out: dict[str, float] = {}
        for L in WINDOWS_S:
            out[f"false_per_min_{L}"] = float(c[f"false_{L}"][i]) / tally.minutes
            for onset_set in SETS:
                n = tally.targets[onset_set]
                out[f"catch_{onset_set}_{L}"] = (
                    float(c[f"caught_{onset_set}_{L}"][i]) / n if n else math.nan
                )
        return out

    def _cal_tally(self, aid: str, start: float) -> FrameTally:
        a = self.animals[aid]
        key = (aid, start)
        if key not in self._cal:
            self._cal[key] = FrameTally.from_scorer(a.t[: a.end], a.reversal[: a.end], start)
        return self._cal[key]

    def _own(self, aid: str, source: str, arm: float, refr: float, budget: float) -> tuple:
        """The calibration-only threshold at ``budget`` and the calibration minutes."""
        a = self.animals[aid]
        t, s = a.t[: a.end], a.scores[source][: a.end]
        has = np.flatnonzero(np.isfinite(s))
        if not len(has):
            return math.inf, 0.0
        tally = self._cal_tally(aid, float(t[has[0]]))
        L = BUDGETS[budget][1]
        minutes = scored_minutes(t, s)
        allowed = math.floor(budget * minutes + 1e-9)
        own, _, _ = own_threshold(t, s, lambda f: tally.false_counts(f, L), allowed, arm, refr)
        return own, minutes

    def _cross(
        self, train: tuple[str, ...], source: str, arm: float, refr: float, budget: float
    ) -> float:
        """Lowest threshold at which the training animals' scored periods, pooled, fire at
        most ``budget`` false triggers per minute (and at every higher one)."""
        L = BUDGETS[budget][1]
        curves = [self.curve(aid, source, arm, refr) for aid in train]
        candidates = np.unique(np.concatenate([c["thresholds"] for c in curves]))
        false = np.zeros(len(candidates))
        minutes = sum(self.animals[aid].scored.minutes for aid in train)
        for c in curves:
            i = np.searchsorted(c["thresholds"], candidates, side="left")
            false += c[f"false_{L}"][i]
        bad = np.flatnonzero(false / minutes > budget + 1e-12)
        if not len(bad):
            return float(candidates[0])
        return float(candidates[min(bad[-1] + 1, len(candidates) - 1)])

    def _evaluate(self, setting: tuple, aid: str, train: tuple[str, ...]) -> Evaluation:
        source, arm, refr, n0, budget = setting
        onset_set, L = BUDGETS[budget]
        cross = self.cross(train, source, arm, refr, budget)
        own, minutes = self.own(aid, source, arm, refr, budget)
        if n0 == "cross":
            weight, threshold = 0.0, cross
        else:
            weight = shrink_weight(budget, minutes, float(n0))
            threshold = shrunk_threshold(own, cross, weight)
        figures = self.at(aid, source, arm, refr, threshold)
        detail = {
            "threshold": threshold,
            "cross_threshold": cross,
            "own_threshold": own,
            "weight": weight,
            "evidence": budget * minutes + 1.0,
            **figures,
        }
        return Evaluation(figures[f"catch_{onset_set}_{L}"], figures[f"false_per_min_{L}"], detail)

    def defaults(self, sources: tuple[str, ...], budget: float) -> dict[str, Any]:
        """The setting a live decoder would ship: chosen as in an inner fold, on all animals
        (in sample), with the cross-animal threshold over all of them."""
        settings = self._settings(sources, budget, PRIOR_EVIDENCE)
        ids = tuple(self.animals)
        scores = np.empty((len(settings), len(ids)))
        false = np.empty_like(scores)
        for s, setting in enumerate(settings):
            for j, aid in enumerate(ids):
                e = self.evaluate(setting, aid, tuple(a for a in ids if a != aid))
                scores[s, j], false[s, j] = e.objective, e.false_per_min
        best = settings[choose_setting(settings, scores, false, budget)]
        source, arm, refr, _, _ = best
        return {
            "setting": dict(zip(("score", "arm_s", "refractory_s", "n0"), best[:4], strict=True)),
            "cross_threshold": self.cross(ids, source, arm, refr, budget),
            "mean_catch": float(np.nanmean(scores[settings.index(best)])),
            "mean_false_per_min": float(false[settings.index(best)].mean()),
        }

    @staticmethod
    def _settings(sources: tuple[str, ...], budget: float, priors: tuple) -> list[Hashable]:
        return [
            (s, arm, refr, n0, budget)
            for s, arm, refr, n0 in itertools.product(sources, ARM_S, REFRACTORY_S, priors)
        ]

    def nested(
        self, sources: tuple[str, ...], budget: float, priors: tuple = PRIOR_EVIDENCE
    ) -> list:
        settings = self._settings(sources, budget, priors)
        return nested_lowo(list(self.animals), settings, self.evaluate, budget)


METRICS = tuple(f"catch_{s}_{L}" for L in WINDOWS_S for s in SETS) + tuple(
    f"false_per_min_{L}" for L in WINDOWS_S
)


def _row(folds: list) -> dict[str, Any]:
    """One table row: per animal, the held-out figures and the setting chosen for it."""
    per = {
        f.held_out: {
            "setting": dict(
                zip(("score", "arm_s", "refractory_s", "n0", "budget"), f.setting, strict=True)
            ),
            "inner_catch": f.inner_objective,
            "inner_false_per_min": f.inner_false_per_min,
            **f.outer.detail,
        }
        for f in folds
    }
    means = {m: float(np.nanmean([p[m] for p in per.values()])) for m in METRICS}
    return {"animals": per, "mean": means}


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    return x


def _rows(study: Study, names: tuple[str, ...], budget: float) -> dict[str, Any]:
    rows = {}
    for name in names:
        rows[name] = _row(study.nested((name,), budget))
    neural = tuple(n for n in NEURAL if n in names)
    rows["chosen"] = _row(study.nested(neural, budget))
    rows["chosen, cross-animal threshold only"] = _row(study.nested(neural, budget, ("cross",)))
    rows["chosen"]["defaults"] = study.defaults(neural, budget)
    return rows


def _markdown(report: dict[str, Any]) -> str:
    lines = []
    n = len(report["noids"]["0.5"]["chosen"]["animals"])
    for budget in BUDGETS:
        b = f"{budget:g}"
        lines += [
            f"\n#### B = {b} false triggers per minute (means over the {n} held-out animals)\n"
        ]
        lines += [
            "| identities | score | all +1.2 s | sustained +1.2 s | all +2.4 s | sustained +2.4 s "
            "| false/min (+1.2 s) | false/min (+2.4 s) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for kind in ("noids", "ids"):
            for name, row in report[kind][b].items():
                if kind == "ids" and name in IDENTITY_FREE:
                    continue
                m = row["mean"]
                vals = " | ".join(f"{m[k]:.3f}" for k in METRICS[:4])
                lines.append(
                    f"| {'yes' if kind == 'ids' else 'no'} | {name} | {vals} | "
                    f"{m['false_per_min_1.2']:.2f} | {m['false_per_min_2.4']:.2f} |"
                )
    for budget, (onset_set, L) in BUDGETS.items():
        b = f"{budget:g}"
        key = f"catch_{onset_set}_{L}"
        for kind in ("noids", "ids"):
            rows = report[kind][b]
            ids = list(next(iter(rows.values()))["animals"])
            lines += [
                f"\n#### B = {b}, identities {'yes' if kind == 'ids' else 'no'}: catch of "
                f"{onset_set} onsets within +{L} s / false per minute, per held-out animal\n",
                "| score | " + " | ".join(ids) + " | mean |",
                "|---" * (len(ids) + 2) + "|",
            ]
            for name, row in rows.items():
                if kind == "ids" and name in IDENTITY_FREE:
                    continue
                cells = [
                    f"{row['animals'][i][key]:.2f} / {row['animals'][i][f'false_per_min_{L}']:.2f}"
                    for i in ids
                ]
                lines.append(
                    f"| {name} | "
                    + " | ".join(cells)
                    + f" | **{row['mean'][key]:.3f} / {row['mean'][f'false_per_min_{L}']:.2f}** |"
                )
    lines += _settings_table(report)
    return "\n".join(lines)


def _settings_table(report: dict[str, Any]) -> list[str]:
    """What the nested choice picked per held-out animal in the ``chosen`` rows."""
    lines = [
        "\n#### What the nested choice picked (`chosen` rows): score, arming s, refractory s, "
        "n0; threshold (own / cross-animal), per held-out animal\n",
    ]
    for kind in ("noids", "ids"):
        for b in (f"{budget:g}" for budget in BUDGETS):
            animals = report[kind][b]["chosen"]["animals"]
            if len(lines) == 1:
                lines += ["| identities | B | " + " | ".join(animals) + " |"]
                lines += ["|---|---" + "|---" * len(animals) + "|"]
            cells = []
            for a in animals.values():
                st = a["setting"]
                n0 = st["n0"] if isinstance(st["n0"], str) else f"{st['n0']:g}"
                cells.append(
                    f"{st['score']}, {st['arm_s']:g}, {st['refractory_s']:g}, {n0}; "
                    f"{a['threshold']:.2f} ({a['own_threshold']:.2f} / {a['cross_threshold']:.2f})"
                )
            kind_name = "yes" if kind == "ids" else "no"
            lines.append(f"| {kind_name} | {b} | " + " | ".join(cells) + " |")
    lines.append(
        "\nDefaults a live decoder would ship (the same choice made on all six, in sample):\n"
    )
    for kind in ("noids", "ids"):
        for b in (f"{budget:g}" for budget in BUDGETS):
            d = report[kind][b]["chosen"]["defaults"]
            st = d["setting"]
            lines.append(
                f"- identities {'yes' if kind == 'ids' else 'no'}, B = {b}: score `{st['score']}`, "
                f"arming {st['arm_s']:g} s, refractory {st['refractory_s']:g} s, n0 = {st['n0']}, "
                f"cross-animal threshold {d['cross_threshold']:.3f} (in sample: catch "
                f"{d['mean_catch']:.3f} at {d['mean_false_per_min']:.2f} false/min)"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scores", type=Path, required=True, help="tools/trigger_scores.py --out")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument(
        "--score", action="append", default=None, help="score names (default: every cached one)"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    report: dict[str, Any] = {
        "protocol": __doc__,
        "arm_s": ARM_S,
        "refractory_s": REFRACTORY_S,
        "prior_evidence": PRIOR_EVIDENCE,
        "objective": {f"{b:g}": f"catch_{s}_{L}" for b, (s, L) in BUDGETS.items()},
    }
    for kind in ("noids", "ids"):
        files = sorted(args.scores.glob(f"*.{kind}.npz"))
        cached = (
            tuple(k[6:] for k in np.load(files[0]).files if k.startswith("score_")) if files else ()
        )
        names = tuple(args.score) if args.score else cached
        study = Study(load_animals(args.scores, kind, names))
        report[kind] = {f"{b:g}": _rows(study, names, b) for b in BUDGETS}
        print(f"{kind}: done in {time.perf_counter() - start:.0f} s", flush=True)
    report["seconds"] = time.perf_counter() - start
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(_json_safe(report), indent=1))
    print(_markdown(report))


if __name__ == "__main__":
    main()
