"""Per-frame cost of the calibrated head alone against the whole fused decision, in one process.

On the bundled real recording: the calibrated head's live work per frame (``head_features`` +
``Head.predict``, what the decoder does today after calibration) and the fused decision's
(``AnimalDecoder.step``: role pooling, four components, fusion), timed frame by frame and
interleaved, so their ratio is fair on a busy machine. Also the calibration fit
(``fit_calibration``) with today's scikit-learn solver and with the hand-written Newton solver
of git revision ``--before`` (loaded from git, for the ratio only).

    python tools/decision_cost.py --repeats 20 --json bench/results/decision_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
import types
from pathlib import Path
from typing import Any

import numpy as np


def _stats(ns: list[int]) -> dict[str, float]:
    us = np.asarray(ns, np.float64) / 1e3
    return {
        "p50_us": float(np.percentile(us, 50)),
        "p99_us": float(np.percentile(us, 99)),
        "p99.9_us": float(np.percentile(us, 99.9)),
        "max_us": float(us.max()),
        "n": len(us),
    }


def _decoder(recording: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """A fused decoder fit on the recording itself (cost does not depend on the weights)."""
    from rtdecode.calibration import (
        AnimalDecoder,
        CalibrationConfig,
        CrossModel,
        RoleConfig,
        RolePooler,
        neuron_roles,
        onset_target,
    )
    from rtdecode.calibration._decision import cross_features, identity_columns
    from rtdecode.calibration._onset import fit_linear
    from rtdecode.preprocess import preprocess_traces

    features, valid = preprocess_traces(recording.traces, recording.timestamps)
    t = recording.timestamps - recording.timestamps[0]
    y = recording.reversal
    calib, after = (t >= 10) & (t < 180), np.flatnonzero(t >= 180)
    z = np.where(valid, features[..., 0], 0.0).astype(np.float64)
    dz = np.where(valid, features[..., 1], 0.0).astype(np.float64)
    roles = RoleConfig()
    pooled = RolePooler(neuron_roles(z[calib], y[calib]), 0.6, roles).recording(z, dz)
    cross = cross_features(pooled, z, dz, identity_columns(None, ()))
    target, care = onset_target(y)
    model = CrossModel(
        roles=roles,
        names=(),
        state=fit_linear(cross[after], y[after], 0.01),
        onset=fit_linear(cross[care], target[care], 0.01),
        fusion=fit_linear(cross[after, :4], y[after], 0.01),
        head=CalibrationConfig(balanced=True),
        onset_c=0.01,
    )
    decoder = AnimalDecoder(model)
    decoder.calibrate(features[calib], valid[calib], y[calib], 0.6)
    return decoder, features, valid, after


def _per_frame(recording: Any, repeats: int) -> dict[str, Any]:
    from rtdecode.calibration import head_features

    decoder, features, valid, after = _decoder(recording)
    head = decoder.state_head
    buffer = np.zeros(head.weights.shape[0])
    before: list[int] = []
    fused: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(repeats):
        for i in after:
            frame, ok = features[i], valid[i]
            start = clock()
            head.predict(head_features(frame, ok, 0.5, buffer))
            middle = clock()
            decoder.step(frame, ok)
            fused.append(clock() - middle)
            before.append(middle - start)
    a, b = _stats(before), _stats(fused)
    return {
        "calibrated_head": a,
        "fused_decision": b,
        "ratio_p50": b["p50_us"] / a["p50_us"],
        "ratio_p99": b["p99_us"] / a["p99_us"],
        "neurons": int(features.shape[1]),
    }


def _old_solver(revision: str) -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{revision}:rtdecode/calibration/_logreg.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("logreg_before")
    exec(compile(source, f"{revision}:_logreg.py", "exec"), module.__dict__)
    return module


def _fit(recording: Any, revision: str, repeats: int) -> dict[str, Any]:
    """fit_calibration on the first 180 s with today's solver and with ``revision``'s."""
    from rtdecode.calibration import _head, fit_calibration, recording_head_features
    from rtdecode.calibration._logreg import fit_logistic
    from rtdecode.config import PreprocessConfig
    from rtdecode.training._dataset import prepare_recording

    prepared = prepare_recording(recording, PreprocessConfig())
    rows = slice(17, 300)
    x = recording_head_features(prepared.features, prepared.valid, np.full(prepared.n_frames, 0.5))
    y = prepared.reversal
    old = _old_solver(revision).fit_logistic
    times: dict[str, list[float]] = {"sklearn": [], "before": []}
    heads = {}
    for _ in range(repeats):
        for name, solver in (("before", old), ("sklearn", fit_logistic)):
            _head.fit_logistic = solver  # type: ignore[attr-defined]
            start = time.perf_counter()
            result = fit_calibration(x[rows], y[rows], np.full(283, 0.5), _head.CalibrationConfig())
            times[name].append(time.perf_counter() - start)
            heads[name] = result.head
    _head.fit_logistic = fit_logistic  # type: ignore[attr-defined]
    diff = float(np.abs(heads["sklearn"].weights - heads["before"].weights).max())
    medians = {name: float(np.median(v)) for name, v in times.items()}
    return {
        "median_s": medians,
        "ratio": medians["sklearn"] / medians["before"],
        "max_weight_difference": diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--before", default="7fab6fb", help="git revision of the old solver")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from rtdecode.data import bundled_recording

    recording = bundled_recording()
    out = {
        "recording": recording.id,
        "per_frame": _per_frame(recording, args.repeats),
        "fit": _fit(recording, args.before, max(1, args.repeats // 10)),
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_1min": os.getloadavg()[0],
        },
    }
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
