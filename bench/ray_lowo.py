"""LOWO wall time in this process against a local Ray runtime, and Ray's cost per task.

Each repeat runs the six-animal LOWO three ways, in turn (the order rotates between repeats, so
a change in the machine's load hits each way alike): ``plain`` (the folds one after another in
this process, as ``rtdecode eval --protocol lowo`` without ``--ray``), ``ray-1`` and ``ray-2``
(a local Ray runtime with 1 or 2 CPUs, started and stopped inside the timed span, as ``--ray
local`` does). Every way uses :class:`~rtdecode.training._parallel.Runner` and the same fold
function, which also times the fold inside its worker, so that

- *Ray's overhead* = wall time - the busiest worker's summed in-task time (what the same
  folds would have taken with no runtime to start, no transfers and no idle worker);
- per-animal balanced accuracy must be identical in every run (checked; a mismatch stops).

Then Ray's fixed costs are timed apart (start a 2-CPU runtime, start its workers and import
the training code there, stop it), and on the warm runtime ``--tasks`` empty tasks that each
receive the recordings by reference give the round-trip cost of one task. The script runs itself with
``OMP_NUM_THREADS=1``, as Ray starts its workers: with the default (one OpenMP thread per core)
the plain run's folds took 1.5-2x longer on this loaded machine, which would flatter Ray. Prints a table and writes ``--json`` with the
environment (load average before and after each run: the machine may be shared). Usage::

    python bench/ray_lowo.py --data ../shared/data/flavell2023 [--recipe gnn] [--epochs 2]
        [--repeats 3] [--tasks 200] [--ways plain ray-1 ray-2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from rtdecode.bench import capture_environment
from rtdecode.preprocess import PreprocessConfig
from rtdecode.training._evaluate import lowo_fold
from rtdecode.training._load import prepare_folder
from rtdecode.training._parallel import Runner
from rtdecode.training._presets import preset

WAYS = {"plain": None, "ray-1": 1, "ray-2": 2}
"""Name -> CPUs of the local Ray runtime (``None``: no Ray)."""


def _timed_fold(data: list[Any], job: tuple[int, Any]) -> dict[str, Any]:
    """One LOWO fold, with its start and end (wall clock) and the process that ran it."""
    held, config = job
    start = time.time()
    fold = lowo_fold(data, held, config, PreprocessConfig())
    return {
        "balanced_accuracy": fold["entry"]["balanced_accuracy"],
        "start": start,
        "end": time.time(),
        "pid": os.getpid(),
    }


def _nothing(data: list[Any], item: int) -> int:
    """An empty task that still receives the recordings (by reference)."""
    return len(data) + item


def _run(way: str, data: list[Any], config: Any) -> dict[str, Any]:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    with Runner(None if WAYS[way] is None else "local", num_cpus=WAYS[way]) as runner:
        outcome = runner.map(_timed_fold, [(i, config) for i in range(len(data))], data, echo=None)
    wall = time.perf_counter() - started
    if outcome.failures:
        raise SystemExit(f"{way}: {outcome.failures}")
    folds = [f for f in outcome.results if f is not None]
    busy: dict[int, float] = {}
    for f in folds:
        busy[f["pid"]] = busy.get(f["pid"], 0.0) + f["end"] - f["start"]
    return {
        "way": way,
        "wall_s": round(wall, 2),
        "fold_s": [round(f["end"] - f["start"], 2) for f in folds],
        "busiest_worker_s": round(max(busy.values()), 2),
        "overhead_s": round(wall - max(busy.values()), 2),
        "workers": len(busy),
        "balanced_accuracy": [f["balanced_accuracy"] for f in folds],
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def _imports(data: list[Any], item: int) -> int:
    """What a fold task's worker loads before its first fold: torch and the training code."""
    import rtdecode.training._evaluate  # noqa: F401

    return item


def _per_task(data: list[Any], tasks: int) -> dict[str, Any]:
    """Ray's fixed costs (start the runtime, start 2 workers that import the training code, stop)
    and the round trip of empty tasks on the warm runtime, the recordings passed by reference."""
    started = time.perf_counter()
    with Runner("local", num_cpus=2) as runner:
        entered = time.perf_counter()
        shared = runner.share(data)
        runner.map(_imports, [0, 1], shared, echo=None)
        warm = time.perf_counter()
        runner.map(_nothing, list(range(tasks)), shared, echo=None)
        batch = time.perf_counter() - warm
        one = []
        for i in range(20):
            t = time.perf_counter()
            runner.map(_nothing, [i], shared, echo=None)
            one.append(time.perf_counter() - t)
        stopping = time.perf_counter()
    return {
        "start_runtime_s": round(entered - started, 2),
        "start_workers_and_import_s": round(warm - entered, 2),
        "stop_runtime_s": round(time.perf_counter() - stopping, 2),
        "tasks": tasks,
        "per_task_ms_in_a_batch": round(1000 * batch / tasks, 2),
        "one_task_round_trip_ms_median": round(1000 * statistics.median(one), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--recipe", default="gnn")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--ways", nargs="+", choices=list(WAYS), default=list(WAYS))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if os.environ.get("OMP_NUM_THREADS") != "1":  # as in a Ray worker; must be set at start-up
        os.execve(
            sys.executable, [sys.executable, *sys.argv], {**os.environ, "OMP_NUM_THREADS": "1"}
        )
    data = prepare_folder(args.data, PreprocessConfig(), need_behaviour=True)
    config = preset(args.recipe, epochs=args.epochs)
    ways = args.ways
    runs = []
    for r in range(args.repeats):
        for way in ways[r % len(ways) :] + ways[: r % len(ways)]:
            runs.append(_run(way, data, config))
            print(json.dumps(runs[-1]), flush=True)
            if runs[-1]["balanced_accuracy"] != runs[0]["balanced_accuracy"]:
                raise SystemExit(f"{way}: per-animal figures differ from the first run")
    per_task = _per_task(data, args.tasks) if args.tasks else {}
    summary = {
        way: {
            key: round(statistics.median(r[key] for r in runs if r["way"] == way), 2)
            for key in ("wall_s", "busiest_worker_s", "overhead_s")
        }
        for way in ways
    }
    print(f"{'way':<8}{'wall s':>9}{'busiest worker s':>18}{'overhead s':>12}  (medians)")
    for way, s in summary.items():
        print(f"{way:<8}{s['wall_s']:>9}{s['busiest_worker_s']:>18}{s['overhead_s']:>12}")
    print(json.dumps(per_task))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "recipe": args.recipe,
            "epochs": args.epochs,
            "animals": [d.id for d in data],
            "runs": runs,
            "median": summary,
            "per_task": per_task,
            "omp_num_threads": os.environ["OMP_NUM_THREADS"],
            "environment": capture_environment(),
        }
        args.json.write_text(json.dumps(report, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
