"""Run the LOWO protocol for several recipes at once, one process per fold.

The same code path as ``rtdecode eval --protocol lowo`` (``lowo_fold`` / ``lowo_report``), spread
over worker processes, for a many-core or GPU machine. Writes ``<name>.json`` per recipe (the
``rtdecode eval --json`` report) and ``<name>.npz`` with each fold's decoded probabilities.

    python tools/lowo_sweep.py --data ../shared/data/flavell2023 --out results/lowo \\
        --recipe gnn --recipe logreg --recipe 'gnn-w64=gnn:{"model_window": 64}'
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np


def _parse(spec: str) -> tuple[str, str, dict[str, Any]]:
    """``name=preset:{json overrides}`` (or just ``preset``) -> name, preset, overrides."""
    head, _, args = spec.partition(":")
    name, _, preset = head.partition("=")
    overrides = json.loads(args) if args else {}
    return name, preset or name, overrides


_DATA: list[Any] = []


def _init(folder: str, threads: int) -> None:
    import torch

    from rtdecode.preprocess import PreprocessConfig
    from rtdecode.training._load import prepare_folder

    torch.set_num_threads(threads)
    _DATA.extend(prepare_folder(folder, PreprocessConfig(), need_behaviour=True))


def _fold(job: tuple[str, str, dict[str, Any], int, str]) -> tuple[str, int, dict[str, Any]]:
    from rtdecode.preprocess import PreprocessConfig
    from rtdecode.training._evaluate import lowo_fold
    from rtdecode.training._presets import preset

    name, recipe, overrides, held, device = job
    config = preset(recipe, **{"threads": 1, **overrides})
    return name, held, lowo_fold(_DATA, held, config, PreprocessConfig(), device=device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--recipe", action="append", required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from rtdecode.data import discover_recordings

    n_animals = len(discover_recordings(args.data))
    specs = [_parse(s) for s in args.recipe]
    jobs = [(n, r, o, h, args.device) for n, r, o in specs for h in range(n_animals)]
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    folds: dict[str, dict[int, dict[str, Any]]] = {n: {} for n, _, _ in specs}
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(args.data, 1)) as pool:
        futures = [pool.submit(_fold, job) for job in jobs]
        for future in as_completed(futures):
            name, held, fold = future.result()
            folds[name][held] = fold
            entry = fold["entry"]
            print(
                f"{time.perf_counter() - started:6.0f} s {name} fold {held}: "
                f"{entry['balanced_accuracy']:.3f} / {entry['auroc']:.3f}",
                flush=True,
            )
            if len(folds[name]) == n_animals:
                spec = next(s for s in specs if s[0] == name)
                _write(args.out, spec, folds[name], time.perf_counter() - started)


def _write(
    out: Path, spec: tuple[str, str, dict[str, Any]], by_fold: dict[int, Any], seconds: float
) -> None:
    from rtdecode.training._evaluate import lowo_report
    from rtdecode.training._presets import preset

    name, recipe, overrides = spec
    ordered = [by_fold[h] for h in sorted(by_fold)]
    report = lowo_report(ordered, preset(recipe, **{"threads": 1, **overrides}), seconds)
    report["recipe_name"] = name
    (out / f"{name}.json").write_text(json.dumps(report, indent=2, default=float))
    arrays = {}
    for h, fold in enumerate(ordered):
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
