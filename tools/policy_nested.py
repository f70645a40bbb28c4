"""Choose the trigger policy's defaults leave-one-animal-out, and score the choice honestly.

For each of the six held-out animals, the fold model (from ``--fold-cache``, as ``rtdecode eval
--protocol lowo --fold-cache`` keeps it) decodes the held-out recording with identities, frames
from ``LOWO_FIRST_FRAME`` on. Every setting of a grid (``on``, ``off``, ``min_frames``,
``refractory_s``; the other fields at their defaults) runs over those probabilities exactly as
``rtdecode eval`` runs the policy. Nested: for each animal the setting is chosen on the other
five (most onsets caught with at most ``--cap`` false triggers per minute on average, issue 9's
target; if none, the fewest false triggers) and scored on it. Writes the grid, the choices,
the nested figures and today's defaults' figures as JSON. The folds, then the settings, run in
this process, or with ``--ray`` as Ray tasks (docs/cluster.md).

    python tools/policy_nested.py --data ../shared/data/flavell2023 --fold-cache .fold-cache \\
        --json docs/results/policy/nested.json
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ON = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
OFF = (0.2, 0.3, 0.4, 0.5)
MIN_FRAMES = (1, 2, 3)
REFRACTORY_S = (2.0, 5.0, 10.0, 15.0, 20.0)
PREVIOUS = {"on": 0.6, "off": 0.4, "min_frames": 1, "refractory_s": 5.0}
"""The defaults before this choice (the loop's first policy)."""


def _decode(data: list[Any], job: tuple[int, Path]) -> tuple[Any, np.ndarray, np.ndarray]:
    """One fold (a task): the held-out recording, its scored frames and reversal probabilities."""
    from rtdecode.config import PreprocessConfig
    from rtdecode.training import fold_model
    from rtdecode.training._evaluate import LOWO_FIRST_FRAME
    from rtdecode.training._fit import predict_recording
    from rtdecode.training._presets import preset

    i, cache = job
    model = fold_model(data, i, preset("gnn"), PreprocessConfig(), cache)
    frames, probs = predict_recording(model, model.build(), data[i], use_labels=True)
    keep = frames >= LOWO_FIRST_FRAME
    return data[i], frames[keep], probs[keep].astype(np.float64)


def _score(decoded: list[Any], setting: dict[str, Any]) -> tuple[list[float], list[float]]:
    """One setting (a task): onsets caught and false triggers per minute on every animal."""
    from rtdecode.policy import PolicyConfig
    from rtdecode.training._evaluate import recording_metrics

    policy = PolicyConfig(**setting)
    entries = [recording_metrics(h, f, p, policy) for h, f, p in decoded]
    return [e["catch_all_1.2s"] for e in entries], [e["false_per_min_1.2s"] for e in entries]


def _fail(outcome: Any) -> None:
    """Stop with every failed task named (the grid needs all of them)."""
    if outcome.failures:
        sys.exit("\n".join(f"{f.name} failed: {f.error}" for f in outcome.failures))


def _choose(hits: np.ndarray, false: np.ndarray, cap: float) -> int:
    """Index of the setting with most onsets caught at <= ``cap`` false/min (means over columns)."""
    h, f = hits.mean(axis=1), false.mean(axis=1)
    ok = np.flatnonzero(f <= cap)
    if not len(ok):
        return int(np.argmin(f))
    return int(ok[np.lexsort((f[ok], -h[ok]))[0]])


def main() -> None:
    from rtdecode.config import PreprocessConfig
    from rtdecode.policy import PolicyConfig
    from rtdecode.training._load import prepare_folder
    from rtdecode.training._parallel import Runner

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--fold-cache", type=Path, required=True)
    parser.add_argument("--cap", type=float, default=0.5, help="false triggers per minute")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--ray", default=None, help="auto, local or a cluster ADDRESS")
    args = parser.parse_args()
    data = prepare_folder(args.data, PreprocessConfig(), need_behaviour=True)
    grid = [
        dict(on=on, off=off, min_frames=m, refractory_s=r)
        for on, off, m, r in itertools.product(ON, OFF, MIN_FRAMES, REFRACTORY_S)
        if off <= on
    ]
    with Runner(args.ray) as runner:
        jobs = [(i, args.fold_cache) for i in range(len(data))]
        folds = runner.map(_decode, jobs, data, [d.id for d in data], "folds")
        _fail(folds)
        shared = runner.share(folds.results)  # into the object store once, for every setting
        scores = runner.map(_score, grid, shared, [str(g) for g in grid], "settings")
        _fail(scores)
    hits = np.array([s[0] for s in scores.results if s is not None])
    false = np.array([s[1] for s in scores.results if s is not None])
    decoded = folds.results
    ids = [held.id for held, _, _ in decoded]
    nested = []
    for k in range(len(ids)):
        rest = [j for j in range(len(ids)) if j != k]
        g = _choose(hits[:, rest], false[:, rest], args.cap)
        nested.append(
            {
                "held_out": ids[k],
                "chosen": grid[g],
                "inner_hit_rate": float(hits[g, rest].mean()),
                "inner_false_per_min": float(false[g, rest].mean()),
                "onset_hit_rate": float(hits[g, k]),
                "false_triggers_per_min": float(false[g, k]),
            }
        )
    everyone = _choose(hits, false, args.cap)
    defaults = dataclasses.asdict(PolicyConfig())
    report = {
        "cap_false_per_min": args.cap,
        "recordings": ids,
        "nested": nested,
        "nested_mean_onset_hit_rate": float(np.mean([n["onset_hit_rate"] for n in nested])),
        "nested_mean_false_triggers_per_min": float(
            np.mean([n["false_triggers_per_min"] for n in nested])
        ),
        "chosen_on_all_six": grid[everyone],
        "chosen_on_all_six_hit_rate": hits[everyone].tolist(),
        "chosen_on_all_six_false_per_min": false[everyone].tolist(),
        "defaults_now": {k: defaults[k] for k in ("on", "off", "min_frames", "refractory_s")},
        "previous_defaults": PREVIOUS,
        "previous_defaults_hit_rate": hits[grid.index(PREVIOUS)].tolist(),
        "previous_defaults_false_per_min": false[grid.index(PREVIOUS)].tolist(),
        "grid": grid,
        "hit_rate": hits.tolist(),
        "false_per_min": false.tolist(),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    for n in nested:
        print(
            f"{n['held_out']}: chose {n['chosen']}, inner {n['inner_hit_rate']:.3f} / "
            f"{n['inner_false_per_min']:.2f}, held out {n['onset_hit_rate']:.3f} / "
            f"{n['false_triggers_per_min']:.2f}"
        )
    print(
        f"nested: onset hit rate {report['nested_mean_onset_hit_rate']:.3f}, false triggers/min "
        f"{report['nested_mean_false_triggers_per_min']:.3f}; on all six: {grid[everyone]}"
    )


if __name__ == "__main__":
    main()
