"""Run the LOWO protocol for several recipes at once, one task per (recipe, held-out animal).

The same code path as ``rtdecode eval --protocol lowo`` (``lowo_fold`` / ``lowo_report``). The
folds run one after another in this process, or with ``--ray`` as Ray tasks on this machine or a
cluster (docs/cluster.md). Writes ``<name>.json`` per recipe (the ``rtdecode eval --json``
report) and ``<name>.npz`` with each fold's decoded probabilities; exits 1 when a fold failed.

    python tools/lowo_sweep.py --data ../shared/data/flavell2023 --out results/lowo \\
        --recipe gnn --recipe logreg --recipe 'gnn-w64=gnn:{"model_window": 64}' --ray local
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _parse(spec: str) -> tuple[str, str, dict[str, Any]]:
    """``name=preset:{json overrides}`` (or just ``preset``) -> name, preset, overrides."""
    head, _, args = spec.partition(":")
    name, _, preset = head.partition("=")
    overrides = json.loads(args) if args else {}
    return name, preset or name, overrides


def _config(recipe: str, overrides: dict[str, Any]) -> Any:
    from rtdecode.training._presets import preset

    return preset(recipe, **{"threads": 1, **overrides})


def _fold(data: list[Any], job: tuple[str, str, dict[str, Any], int, str]) -> dict[str, Any]:
    """One fold (a Ray task with ``--ray``): ``job`` is (name, recipe, overrides, held, device)."""
    from rtdecode.preprocess import PreprocessConfig
    from rtdecode.training._evaluate import lowo_fold

    _, recipe, overrides, held, device = job
    return lowo_fold(data, held, _config(recipe, overrides), PreprocessConfig(), device=device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--recipe", action="append", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ray", default=None, help="auto, local or a cluster ADDRESS")
    parser.add_argument(
        "--gpus-per-fold", type=float, default=0.0, help="with --ray and a GPU: e.g. 0.25"
    )
    args = parser.parse_args()

    from rtdecode.preprocess import PreprocessConfig
    from rtdecode.training._load import prepare_folder
    from rtdecode.training._parallel import Runner

    data = prepare_folder(args.data, PreprocessConfig(), need_behaviour=True)
    specs = [_parse(s) for s in args.recipe]
    jobs = [(n, r, o, h, args.device) for n, r, o in specs for h in range(len(data))]
    args.out.mkdir(parents=True, exist_ok=True)
    with Runner(args.ray, gpus_per_task=args.gpus_per_fold) as runner:
        outcome = runner.map(
            _fold,
            jobs,
            data,
            names=[f"{job[0]} {data[job[3]].id}" for job in jobs],
            what="folds",
            describe=lambda f: f"{f['entry']['balanced_accuracy']:.3f} / {f['entry']['auroc']:.3f}",
        )
    for name, recipe, overrides in specs:
        folds = [r for job, r in zip(jobs, outcome.results, strict=True) if job[0] == name]
        if all(f is not None for f in folds):
            _write(args.out, name, _config(recipe, overrides), folds, outcome.seconds)
    for failure in outcome.failures:
        print(f"fold {failure.name} failed: {failure.error}", file=sys.stderr)
    if outcome.failures:
        sys.exit(1)


def _write(out: Path, name: str, config: Any, folds: list[Any], seconds: float) -> None:
    from rtdecode.training._evaluate import lowo_report

    report = lowo_report(folds, config, seconds)
    report["recipe_name"] = name
    (out / f"{name}.json").write_text(json.dumps(report, indent=2, default=float))
    arrays = {}
    for h, fold in enumerate(folds):
        arrays[f"frames_{h}"] = fold["frames"]
        arrays[f"probs_{h}"] = fold["probs"]
        if fold["probs_without_labels"] is not None:
            arrays[f"probs_nolabels_{h}"] = fold["probs_without_labels"]
    np.savez_compressed(out / f"{name}.npz", **arrays)
    extra = report.get("without_labels", {}).get("mean_balanced_accuracy")
    print(
        f"{name}: balanced accuracy {report['mean_balanced_accuracy']:.3f}, "
        f"AUROC {report['mean_auroc']:.3f}"
        + (f", without labels {extra:.3f}" if extra is not None else ""),
        flush=True,
    )


if __name__ == "__main__":
    main()
