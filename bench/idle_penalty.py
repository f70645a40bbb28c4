"""The idle penalty: how much slower one ``Engine.infer`` is after the decoder idled between frames.

At microscope rates (1-10 Hz) the decoder sleeps 100-1000 ms between windows; caches, branch
predictors and the core's clock go cold, and the next forward is slower than back to back. This
script times one forward per tick at each ``--rate`` (real windows of the bundled recording,
neurons repeated to reach N) under each way of spending the gap:

``sleep``
    ``time.sleep`` until the next frame (what a blocking socket read does).
``keep-warm``
    Sleep in slices of ``--keep-warm-ms``, running one forward on the current window (result
    discarded) after each slice, as ``rtdecode run --keep-warm MS`` does on its idle ticks.
``spin``
    Spin on the clock until the next frame (what ``rtdecode run --busy-poll`` does).
``anticipate``
    Sleep until ``--keep-warm-ms`` before the frame is due, run one warm-up forward, sleep on:
    one extra forward per frame, for a stream whose frame times are regular.

``back-to-back`` (no gap) is the reference. Each row gives the forward's p50/p99/max and the CPU
the process used per second of wall time while measuring (the cost of the choice). ``--cpu N``
pins the process to core N first (``os.sched_setaffinity``, as ``rtdecode run --cpu N``);
``--cpu-time`` times the thread's CPU time instead of wall time (time spent preempted by other
processes drops out; cold caches and a slow clock stay in).
Usage::

    python bench/idle_penalty.py --engine numba --engine torch --rate 1 --rate 5 --rate 10 \\
        --rate 1000 --mode sleep --mode keep-warm --mode spin [--cpu 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import lru_cache

import numpy as np
import torch

from rtdecode.bench import capture_environment
from rtdecode.data import bundled_recording
from rtdecode.engines import Engine, load_engine
from rtdecode.latency import percentiles
from rtdecode.preprocess import preprocess_traces

MODES = ("sleep", "keep-warm", "spin", "anticipate")


@lru_cache(maxsize=2)
def _windows(n_neurons: int, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    recording = bundled_recording()
    columns = np.arange(n_neurons) % recording.n_neurons
    features, valid = preprocess_traces(recording.traces[:, columns], recording.timestamps)
    return features, valid, np.arange(window, recording.n_frames)


def _wait(until: float, mode: str, engine: Engine, window: tuple, slice_s: float) -> None:
    """Spend the gap until ``until`` (a perf_counter time) the way ``mode`` says."""
    if mode == "spin":
        while time.perf_counter() < until:
            pass
        return
    if mode == "anticipate":
        if (left := until - time.perf_counter() - slice_s) > 0:
            time.sleep(left)
            engine.infer(*window)
    if mode == "keep-warm":
        while (left := until - time.perf_counter()) > slice_s:
            time.sleep(slice_s)
            engine.infer(*window)
        left = until - time.perf_counter()
    else:
        left = until - time.perf_counter()
    if left > 0:
        time.sleep(left)


def measure(
    engine: Engine,
    n_neurons: int,
    rate_hz: float,
    mode: str,
    frames: int,
    slice_s: float,
    cpu_time: bool = False,
) -> dict[str, float | int | str]:
    """Time one forward per frame at ``rate_hz`` (0: back to back) with the gap spent by ``mode``."""
    features, valid, ends = _windows(n_neurons, engine.window)
    engine.prepare(n_neurons, None, 0.6)
    w = engine.window
    samples = np.empty(frames, np.int64)
    clock = time.thread_time_ns if cpu_time else time.perf_counter_ns
    period = 1.0 / rate_hz if rate_hz > 0 else 0.0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    tick = time.perf_counter()
    for i in range(frames + 5):  # 5 unmeasured frames settle the rhythm
        end = ends[i % len(ends)]
        current = (features[end - w : end], valid[end - w : end])
        if period:
            tick += period
            _wait(tick, mode, engine, current, slice_s)
        start = clock()
        engine.infer(*current)
        if i >= 5:
            samples[i - 5] = clock() - start
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    us = samples / 1e3
    p50, p99 = percentiles(us, (50, 99))
    return {
        "engine": engine.name,
        "neurons": n_neurons,
        "rate_hz": rate_hz,
        "mode": mode if period else "back-to-back",
        "frames": frames,
        "p50_us": float(p50),
        "p99_us": float(p99),
        "max_us": float(us.max()),
        "cpu_per_wall": cpu,
    }


def main() -> None:
    """Parse arguments, measure engine x rate x mode, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", action="append", default=None)
    parser.add_argument("--neurons", type=int, default=150)
    parser.add_argument("--rate", action="append", type=float, default=None)
    parser.add_argument("--mode", action="append", choices=MODES, default=None)
    parser.add_argument("--seconds", type=float, default=15.0, help="per rate (at least 15 frames)")
    parser.add_argument("--keep-warm-ms", type=float, default=10.0)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core first")
    parser.add_argument("--cpu-time", action="store_true", help="thread CPU time, not wall")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    rows = []
    for name in args.engine or ["numba", "torch"]:
        engine = load_engine(None, engine=name)
        rows.append(measure(engine, args.neurons, 0.0, "sleep", 2000, 0.0, args.cpu_time))
        for rate in args.rate or [1.0, 5.0, 10.0, 1000.0]:
            frames = max(15, min(2000, int(args.seconds * rate)))
            for mode in args.mode or list(MODES):
                slice_s = args.keep_warm_ms / 1e3
                rows.append(
                    measure(engine, args.neurons, rate, mode, frames, slice_s, args.cpu_time)
                )
                r = rows[-1]
                print(
                    f"{r['engine']:<6} {rate:>6g} Hz {r['mode']:<12} p50 {r['p50_us']:8.1f} "
                    f"p99 {r['p99_us']:8.1f} max {r['max_us']:8.1f} us  cpu {r['cpu_per_wall']:.2f}",
                    flush=True,
                )
    env = capture_environment(
        {
            "torch_threads": torch.get_num_threads(),
            "pinned_cpu": args.cpu,
            "keep_warm_ms": args.keep_warm_ms,
            "clock": "thread CPU time" if args.cpu_time else "wall",
        }
    )
    print(f"environment: {env}")
    print(
        f"{'engine':<6} {'Hz':>6} {'mode':<12} {'frames':>6} {'p50 us':>8} {'p99 us':>8} "
        f"{'max us':>8} {'cpu/wall':>8}"
    )
    for r in rows:
        print(
            f"{r['engine']:<6} {r['rate_hz']:>6g} {r['mode']:<12} {r['frames']:>6} "
            f"{r['p50_us']:>8.1f} {r['p99_us']:>8.1f} {r['max_us']:>8.1f} {r['cpu_per_wall']:>8.2f}"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"environment": env, "results": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
