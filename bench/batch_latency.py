"""Latency of decoding the windows of B streams that are ready at once: ``Engine.infer_batch``
against the same windows' ``infer`` calls back to back.

Each of B streams has its own engine (``for_stream`` of one loaded engine), prepared for N
unlabelled neurons of the bundled recording (repeated to N), and brings one real window per
repeat. Each repeat times both ways on the same windows, alternating which goes first, after
warm-up passes. For ``numba`` a third row, ``one call``, loops over the B windows inside a
single compiled function: the alternative to back-to-back kernel calls that ``infer_batch``
does not take (see ``NumbaEngine``). Prints p50/p99/p99.9/max of one decode of all B
windows, in microseconds, and the environment; ``--json`` also writes both. ``--cpu-time``
times the calling thread's CPU time instead of wall time (torch runs one thread here): robust
to other processes on a shared machine. Usage::

    python bench/batch_latency.py [--engines torch numba] [--neurons 150] [--sizes 1 2 4 8]
        [--repeats 300] [--cpu-time] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
import torch
from numba import njit
from numba.typed import List

from rtdecode.bench import capture_environment, summarize
from rtdecode.data import bundled_recording
from rtdecode.engines import Engine, load_engine
from rtdecode.engines._numba import NumbaEngine
from rtdecode.kernels.gnn import _weight_views, _workspace_views, forward_views
from rtdecode.preprocess import preprocess_traces

WARMUP = 20


@njit(nogil=True)
def _forward_many(xs, valids, ids, recent, weights, weight_table, spaces, space_tables, probs):
    """:func:`rtdecode.kernels.gnn.gnn_forward` over several windows in one call."""
    w = _weight_views(weights, weight_table)
    for b in range(len(xs)):
        space = _workspace_views(spaces[b], space_tables[b])
        forward_views(xs[b], valids[b], ids[b], recent, w, space, probs[b])


def _one_call(streams: list[NumbaEngine]) -> Callable[[list[tuple]], None]:
    """Decode the jobs of ``streams`` (in this order) with :func:`_forward_many`."""
    weights = streams[0]._packed_weights
    xs, valids, ids, probs, flats, tables = List(), List(), List(), List(), List(), List()
    for stream in streams:
        adapter, space = stream._adapter, stream._workspace
        assert adapter is not None and space is not None
        xs.append(adapter.x)
        valids.append(adapter.valid)
        ids.append(stream._label_ids)
        probs.append(stream._probs)
        flats.append(space.flat)
        tables.append(space.table)
    recent = streams[0].recent

    def run(jobs: list[tuple]) -> None:
        for engine, window, valid in jobs:
            engine._adapt(window, valid)
        _forward_many(xs, valids, ids, recent, weights.flat, weights.table, flats, tables, probs)

    return run


def _measure(
    engine: Engine,
    n: int,
    size: int,
    repeats: int,
    features: np.ndarray,
    valid: np.ndarray,
    clock: Callable[[], int],
) -> dict[str, list[int]]:
    """Nanoseconds per decode of ``size`` windows, for each way of decoding them."""
    streams = [engine.for_stream() for _ in range(size)]
    for stream in streams:
        stream.prepare(n, None, None)
    w = engine.window
    span = features.shape[0] - w

    def jobs(r: int) -> list[tuple]:
        ends = [w + (r * 7 + b * 53) % span for b in range(size)]
        return [
            (s, features[e - w : e], valid[e - w : e]) for s, e in zip(streams, ends, strict=True)
        ]

    ways: dict[str, Callable[[list[tuple]], object]] = {
        "back to back": lambda js: [s.infer(x, v) for s, x, v in js],
        "infer_batch": engine.infer_batch,
    }
    if isinstance(engine, NumbaEngine):
        ways["one call"] = _one_call([s for s in streams if isinstance(s, NumbaEngine)])
    times: dict[str, list[int]] = {name: [] for name in ways}
    order = list(ways.items())
    for r in range(-WARMUP, repeats):
        batch = jobs(r)
        for name, way in order if r % 2 else order[::-1]:
            start = clock()
            way(batch)
            if r >= 0:
                times[name].append(clock() - start)
    return times


def main() -> None:
    """Parse arguments, measure each engine and batch size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engines", nargs="+", default=["torch", "numba"])
    parser.add_argument("--neurons", type=int, default=150)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--cpu-time", action="store_true", help="thread CPU time, not wall")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    clock = time.thread_time_ns if args.cpu_time else time.perf_counter_ns
    torch.set_num_threads(1)  # as rtdecode run --threads 1 (its default)
    recording = bundled_recording()
    columns = np.arange(args.neurons) % recording.n_neurons
    rows = []
    for name in args.engines:
        engine = load_engine(engine=name)
        features, valid = preprocess_traces(
            np.ascontiguousarray(recording.traces[:, columns]),
            recording.timestamps,
            engine.preprocess,
        )
        for size in args.sizes:
            measured = _measure(engine, args.neurons, size, args.repeats, features, valid, clock)
            for way, samples in measured.items():
                stats = summarize(np.array(samples, dtype=np.int64))
                assert stats is not None
                rows.append(
                    {
                        "engine": name,
                        "neurons": args.neurons,
                        "windows": size,
                        "way": way,
                        "repeats": args.repeats,
                        "p50_us": stats.p50,
                        "p99_us": stats.p99,
                        "p99.9_us": stats.p99_9,
                        "max_us": stats.max,
                    }
                )
                print(
                    f"{name:<6} N={args.neurons} B={size}  {way:<13} p50 {stats.p50:8.1f}  "
                    f"p99 {stats.p99:8.1f}  p99.9 {stats.p99_9:8.1f}  max {stats.max:8.1f} us  "
                    f"({stats.p50 / size:6.1f} us a window at p50)"
                )
    environment = capture_environment(
        {
            "torch_threads": torch.get_num_threads(),
            "clock": "thread CPU time" if args.cpu_time else "wall",
        }
    )
    print(f"environment: {environment}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"environment": environment, "results": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
