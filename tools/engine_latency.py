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
    args = parser.parse_args()

    import torch

    from rtdecode.engines import load_engine

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"{'engine':<8}{'N':>6}{'p50 us':>10}{'p90 us':>10}{'p99 us':>10}{'max us':>10}")
    for name in args.engine:
        engine = load_engine(args.model, name)
        for n in args.neurons:
            engine.prepare(n, None, 0.6)
            window = rng.normal(size=(engine.window, n, engine.n_features)).astype(np.float32)
            valid = np.ones((engine.window, n), bool)
            for _ in range(50):
                engine.infer(window, valid)
            times = np.empty(args.iterations)
            for i in range(args.iterations):
                t0 = time.perf_counter_ns()
                engine.infer(window, valid)
                times[i] = (time.perf_counter_ns() - t0) / 1e3
            p50, p90, p99 = np.percentile(times, [50, 90, 99])
            print(f"{name:<8}{n:>6}{p50:>10.0f}{p90:>10.0f}{p99:>10.0f}{times.max():>10.0f}")


if __name__ == "__main__":
    main()
