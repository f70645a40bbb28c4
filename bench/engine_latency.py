"""In-process latency of ``Engine.infer`` alone, per engine and neuron count.

Isolates the inference stage from sockets and preprocessing: real windows from the bundled
recording (neurons repeated to reach N), warm-up excluded, then ``--calls`` timed calls back to
back. Usage::

    python bench/engine_latency.py --engine numba --engine torch --engine onnx --neurons 150 --neurons 302
    python bench/engine_latency.py --engine cuda --engine cuda-fp16 --engine torch   # on a GPU

``--cpu-time`` times the calling thread's CPU time with one thread per engine instead of wall
time: robust to other processes on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from rtdecode.bench import capture_environment, summarize
from rtdecode.data import bundled_recording
from rtdecode.engines import Engine, load_engine
from rtdecode.preprocess import preprocess_traces

WARMUP = 50


def make_engine(name: str, model: str | None, one_thread: bool) -> Engine:
    """``load_engine``, plus ``cuda-fp16`` for the half-precision graph and 1-thread ONNX."""
    from rtdecode.models import load_model_file

    if name == "cuda-fp16":
        from rtdecode.engines._cuda import CudaGraphEngine

        return CudaGraphEngine(load_model_file(model), half=True)
    if name == "onnx" and one_thread:
        from rtdecode.engines._onnx import OnnxEngine

        return OnnxEngine(load_model_file(model), threads=1)
    return load_engine(model, engine=name)


def measure(
    name: str, n_neurons: int, calls: int, model: str | None = None, cpu_time: bool = False
) -> dict[str, float | int | str]:
    """Time ``calls`` inferences of engine ``name`` on windows of ``n_neurons`` neurons."""
    recording = bundled_recording()
    columns = np.arange(n_neurons) % recording.n_neurons
    features, valid = preprocess_traces(recording.traces[:, columns], recording.timestamps)
    engine = make_engine(name, model, cpu_time)
    clock = time.thread_time_ns if cpu_time else time.perf_counter_ns
    engine.prepare(n_neurons, None, recording.frame_interval)
    ends = np.arange(engine.window, recording.n_frames)
    samples = np.empty(calls, dtype=np.int64)
    for i in range(WARMUP + calls):
        end = ends[i % len(ends)]
        window, mask = features[end - engine.window : end], valid[end - engine.window : end]
        start = clock()
        engine.infer(window, mask)
        if i >= WARMUP:
            samples[i - WARMUP] = clock() - start
    stats = summarize(samples)  # the percentile definition every rtdecode benchmark uses
    assert stats is not None
    return {
        "engine": name,
        "neurons": n_neurons,
        "calls": calls,
        "p50_us": stats.p50,
        "p99_us": stats.p99,
        "p99.9_us": stats.p99_9,
        "max_us": stats.max,
    }


def main() -> None:
    """Parse arguments, run every engine x neuron count, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", action="append", default=None)
    parser.add_argument("--neurons", action="append", type=int, default=None)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--model", default=None, help="model file (default: shipped)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--cpu-time", action="store_true", help="thread CPU time, one thread")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1 if args.cpu_time else args.threads)
    rows = [
        measure(engine, n, args.calls, args.model, args.cpu_time)
        for engine in (args.engine or ["numba", "torch", "onnx"])
        for n in (args.neurons or [150, 302])
    ]
    env = capture_environment(
        {
            "torch_threads": torch.get_num_threads(),
            "clock": "thread CPU time" if args.cpu_time else "wall",
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        }
    )
    print(f"environment: {env}")
    print(f"{'engine':<10} {'N':>4} {'p50 us':>9} {'p99 us':>9} {'p99.9 us':>9} {'max us':>9}")
    for r in rows:
        print(
            f"{r['engine']:<10} {r['neurons']:>4} {r['p50_us']:>9.1f} {r['p99_us']:>9.1f} "
            f"{r['p99.9_us']:>9.1f} {r['max_us']:>9.1f}"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"environment": env, "results": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
