"""Decoder latency per frame with and without self-calibration running.

Per frame, as the live path does it: ``Engine.infer`` on a real window of the bundled recording,
then (with calibration) the head's features, :meth:`Calibrator.add` and
:meth:`Calibrator.predict`. Three phases of ``--frames`` frames each: ``plain`` (no calibrator),
``collecting`` (calibrator fed; its fit starts at the end of this phase; ``calibrator_only``
is the calibrator's own share of these frames) and ``fitting`` (the
fit runs in its background thread while frames are decoded; the phase is repeated with new
calibrators so that every frame of it overlaps a fit). Usage::

    python bench/calibration_latency.py --frames 300 --json bench/results/calibration_latency.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

import numpy as np
import torch

from rtdecode.bench import capture_environment, summarize
from rtdecode.calibration import CalibrationConfig
from rtdecode.calibration._live import Calibrator
from rtdecode.data import bundled_recording
from rtdecode.engines import load_engine
from rtdecode.preprocess import preprocess_traces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rec = bundled_recording()
    engine = load_engine()
    engine.prepare(rec.n_neurons, None, rec.frame_interval)
    features, valid = preprocess_traces(rec.traces, rec.timestamps, engine.preprocess)
    w = engine.window
    interval = rec.frame_interval  # a property that takes a median: not per frame
    ends = np.arange(w - 1, rec.n_frames)
    reversal = rec.reversal if rec.reversal is not None else np.zeros(rec.n_frames, bool)
    config = CalibrationConfig(seconds=args.frames * rec.frame_interval)

    own: list[int] = []  # the calibrator's own share of each frame

    def run(calibrator: Calibrator | None, count: int) -> np.ndarray:
        out = np.empty(count, np.int64)
        for i in range(count):
            k = int(ends[i % len(ends)])
            start = time.perf_counter_ns()
            probs = engine.infer(features[k - w + 1 : k + 1], valid[k - w + 1 : k + 1])
            if calibrator is not None:
                mid = time.perf_counter_ns()
                x = calibrator.features(features[k], valid[k], float(probs[1]))
                calibrator.add(x, float(probs[1]), bool(reversal[k]), i * interval)
                calibrator.predict(x, float(probs[1]))
                own.append(time.perf_counter_ns() - mid)
            out[i] = time.perf_counter_ns() - start
        return out

    run(None, 50)  # warm-up
    phases = {"plain": run(None, args.frames)}
    calibrator = Calibrator(rec.n_neurons, rec.frame_interval, config)
    phases["collecting"] = run(calibrator, args.frames)
    phases["calibrator_only"] = np.array(own)
    overlapped: list[int] = []
    fits_s = []
    while len(overlapped) < args.frames:
        calibrator = Calibrator(rec.n_neurons, rec.frame_interval, config)
        run(calibrator, args.frames)  # fills it; the fit starts at its last frame
        started = time.perf_counter()
        while not calibrator.done:
            overlapped.append(int(run(calibrator, 1)[0]))
        fits_s.append(time.perf_counter() - started)
    phases["fitting"] = np.array(overlapped[: args.frames])
    report = {
        "environment": capture_environment(),
        "neurons": rec.n_neurons,
        "frames": args.frames,
        "fit_wall_s": [round(f, 3) for f in fits_s],
        "latency_us": {k: asdict(summarize(v)) for k, v in phases.items()},  # type: ignore[arg-type]
    }
    print("fit wall time (s):", report["fit_wall_s"])
    for name, stats in report["latency_us"].items():
        print(
            f"{name:<11} " + " ".join(f"{k}={v:.1f}" for k, v in stats.items() if k.startswith("p"))
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2, default=str)


if __name__ == "__main__":
    main()
