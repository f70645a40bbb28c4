"""Time ``Engine.infer`` alone (no I/O) for each engine and neuron count; prints percentiles.

python tools/engine_latency.py --neurons 150 302 --engine torch onnx --iterations 2000
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None)
    parser.add_argument("--engine", nargs="+", default=["torch", "onnx"])
    parser.add_argument("--neurons", nargs="+", type=int, default=[150, 302])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time the calling thread's CPU time instead of wall time (one thread per engine): "
        "robust to other processes on a shared machine",
    )
    args = parser.parse_args()

    import torch

    from rtdecode.engines import load_engine

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"{'engine':<8}{'N':>6}{'p50 us':>10}{'p90 us':>10}{'p99 us':>10}{'max us':>10}")
    clock = time.thread_time_ns if args.cpu_time else time.perf_counter_ns
    if args.cpu_time:
        torch.set_num_threads(1)
    for name in args.engine:
        engine = load_engine(args.model, name)
        if args.cpu_time and name == "onnx":
            from rtdecode.engines._onnx import OnnxEngine

            engine = OnnxEngine(engine.model, threads=1)  # type: ignore[attr-defined]
        for n in args.neurons:
            engine.prepare(n, None, 0.6)
            window = rng.normal(size=(engine.window, n, engine.n_features)).astype(np.float32)
            valid = np.ones((engine.window, n), bool)
            for _ in range(50):
                engine.infer(window, valid)
            times = np.empty(args.iterations)
            for i in range(args.iterations):
                t0 = clock()
                engine.infer(window, valid)
                times[i] = (clock() - t0) / 1e3
            p50, p90, p99 = np.percentile(times, [50, 90, 99])
            print(f"{name:<8}{n:>6}{p50:>10.0f}{p90:>10.0f}{p99:>10.0f}{times.max():>10.0f}")


if __name__ == "__main__":
    main()
