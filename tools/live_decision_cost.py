"""Per-frame cost of the live decision steps that issue 17 changed, before against after,
interleaved in one process so that the load of a shared machine hits both alike:

* head: the calibrated head (head features + one dot product, before) against the fused
  decision's step (roles, four components, fusion; ``--fused``, after), on the bundled
  recording's preprocessed frames, both fit on its first 120 s;
* policy: the onset rule (before) against the armed rule (``--false-per-min``, after).

Prints p50 / p99 / p99.9 / max in microseconds, the after/before ratios and the environment.

    python tools/live_decision_cost.py --repeats 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable

import numpy as np

from rtdecode.latency import percentiles

_Q = (50.0, 99.0, 99.9, 100.0)
_KEYS = ("p50", "p99", "p99.9", "max")


def _interleaved(steps: dict[str, Callable[[int], object]], n: int, repeats: int) -> dict:
    clock = time.perf_counter_ns
    cost: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(repeats):
        for i in range(n):
            for name in names if (i + r) % 2 else names[::-1]:
                step = steps[name]
                start = clock()
                step(i)
                cost[name].append((clock() - start) / 1e3)
    us = {
        name: dict(zip(_KEYS, percentiles(np.asarray(v), _Q).tolist(), strict=True))
        for name, v in cost.items()
    }
    before, after = names
    return {**us, "ratio": {k: us[after][k] / us[before][k] for k in _KEYS}}


def _heads(repeats: int) -> dict:
    from importlib import resources

    from rtdecode.calibration import (
        AnimalDecoder,
        CalibrationConfig,
        head_features,
        load_cross_model,
    )
    from rtdecode.calibration._head import fit_state_head, recording_head_features
    from rtdecode.data import bundled_recording
    from rtdecode.preprocess import preprocess_traces

    rec = bundled_recording()
    assert rec.reversal is not None
    features, valid = preprocess_traces(rec.traces, rec.timestamps)
    rows = slice(17, 200)  # 10-120 s
    x = recording_head_features(features[rows], valid[rows], np.full(183, 0.5))
    head = fit_state_head(x, rec.reversal[rows], CalibrationConfig(balanced=True))
    with resources.as_file(resources.files("rtdecode") / "resources" / "cross-model.npz") as p:
        model, _ = load_cross_model(p)
    fused = AnimalDecoder(model)
    fused.calibrate(features[rows], valid[rows], rec.reversal[rows], 0.6)
    buffer = np.zeros(x.shape[1])
    frames = features[200:].astype(np.float32)
    masks = valid[200:]

    def calibrated(i: int) -> float:
        return head.predict(head_features(frames[i], masks[i], 0.5, buffer))

    def fused_step(i: int) -> float:
        return float(fused.step(frames[i], masks[i])[-1])

    return _interleaved({"calibrated": calibrated, "fused": fused_step}, len(frames), repeats)


def _policies(repeats: int) -> dict:
    from rtdecode.policy import Policy, PolicyConfig

    states = ("forward", "reversal")
    rng = np.random.default_rng(0)
    t = np.arange(2000) * 0.6
    p = 1 / (1 + np.exp(-(2 * np.sin(t / 7) + rng.normal(0, 1, len(t)))))
    probs = np.stack([1 - p, p], axis=1).astype(np.float32)
    onset = Policy(PolicyConfig(max_per_min=60), states)
    armed = Policy(PolicyConfig(false_per_min=0.5, refractory_s=5.0, max_per_min=60), states)
    armed.set_threshold(0.4)
    offset = [0.0]

    def step(policy: Policy) -> Callable[[int], object]:
        def one(i: int) -> object:
            if i == 0:
                offset[0] += t[-1] + 1.0
            return policy.step(probs[i], offset[0] + t[i])

        return one

    return _interleaved({"onset": step(onset), "armed": step(armed)}, len(t), repeats)


def main() -> None:
    """Measure and print (JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    out = {"head_us": _heads(args.repeats), "policy_us": _policies(args.repeats)}
    out["environment"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
        "repeats": args.repeats,
        "note": "shared 2-core machine, other engineers' jobs running: compare ratios only",
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
