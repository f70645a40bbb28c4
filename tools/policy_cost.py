"""Per-frame cost of the trigger policy step live: the onset rule (before issue 17) against the
armed rule that ``--false-per-min`` runs (after), interleaved in one process so that the load of a
shared machine hits both alike. Prints p50 / p99 / p99.9 / max in microseconds and the ratios.

    python tools/policy_cost.py --frames 20000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from rtdecode.latency import percentiles
from rtdecode.policy import Policy, PolicyConfig

STATES = ("forward", "reversal")


def main() -> None:
    """Measure and print (JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    t = np.arange(args.frames) * 0.6
    p = 1 / (1 + np.exp(-(2 * np.sin(t / 7) + rng.normal(0, 1, len(t)))))
    probs = np.stack([1 - p, p], axis=1).astype(np.float32)
    policies = {
        "onset": Policy(PolicyConfig(max_per_min=60), STATES),
        "armed": Policy(PolicyConfig(false_per_min=0.5, refractory_s=5.0, max_per_min=60), STATES),
    }
    policies["armed"].set_threshold(0.4)
    cost: dict[str, list[float]] = {name: [] for name in policies}
    clock = time.perf_counter_ns
    for i in range(args.frames):
        for name in ("onset", "armed") if i % 2 else ("armed", "onset"):
            step = policies[name].step
            start = clock()
            step(probs[i], t[i], 0.0, False)
            cost[name].append((clock() - start) / 1e3)
    q = (50.0, 99.0, 99.9, 100.0)
    keys = ("p50", "p99", "p99.9", "max")
    us = {
        name: dict(zip(keys, percentiles(np.asarray(v), q).tolist(), strict=True))
        for name, v in cost.items()
    }
    out: dict[str, object] = {f"{name}_us": v for name, v in us.items()}
    out["ratio_armed_over_onset"] = {k: us["armed"][k] / us["onset"][k] for k in keys}
    out["environment"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_1min": os.getloadavg()[0],
        "frames": args.frames,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
