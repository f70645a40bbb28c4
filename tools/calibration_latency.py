"""Decoder-added latency per phase of a self-calibrating session, beside the same frames of a
session without calibration (``rtdecode run --calibrate 0`` on the same replay).

Usage: ``python tools/calibration_latency.py OFF.h5 CAL.h5 [OFF2.h5 CAL2.h5 ...]``. Phases of the
calibrating session: ``collecting`` (frame time before 10 s of settling plus ``--calibrate``),
``fitting`` (after it, before the first prediction of the calibrated head) and ``head``.
Prints p50/p99 of ``total`` (received -> published) and ``overhead`` (``total`` less inference),
microseconds, from the session files' ``frames/`` table.
"""

from __future__ import annotations

import sys

import numpy as np

from rtdecode.calibration import CalibrationConfig
from rtdecode.latency import percentiles
from rtdecode.stream import read_session

SETTLE_S = CalibrationConfig().skip_s
FRAMES = ("recv_ns", "preprocessed_ns", "inferred_ns", "published_ns")


def _load(path: str) -> dict[str, np.ndarray]:
    session = read_session(path, tables=("frames", "predictions"))
    frames, preds = session.frames, session.predictions
    heads = dict(zip(preds["seq"], preds["head"], strict=True))
    decoded = frames["published_ns"] >= 0
    first_t = float(frames["t"][0])
    ns = {name: frames[name][decoded] for name in FRAMES}
    return {
        "seq": frames["seq"][decoded],
        "t": frames["t"][decoded] - first_t,
        "head": np.array([heads.get(s, 0) for s in frames["seq"][decoded]]),
        "total": (ns["published_ns"] - ns["recv_ns"]) / 1e3,
        "overhead": (ns["published_ns"] - ns["inferred_ns"] + ns["preprocessed_ns"] - ns["recv_ns"])
        / 1e3,
    }


def _stats(values: np.ndarray) -> str:
    if not len(values):
        return "no frames"
    p50, p99 = percentiles(values, (50, 99))
    return f"p50 {p50:7.1f}  p99 {p99:8.1f}  n {len(values)}"


def main(paths: list[str]) -> None:
    """Print the comparison for each (without, with) pair of session files."""
    for off_path, cal_path in zip(paths[::2], paths[1::2], strict=True):
        off, cal = _load(off_path), _load(cal_path)
        summary = read_session(cal_path, tables=()).summary
        if summary is None or "calibration" not in summary:
            sys.exit(f"{cal_path}: no calibration in its summary; give a calibrating session")
        seconds = summary["calibration"]["seconds"]
        switched = cal["head"] == 1
        switch = cal["seq"][switched].min() if switched.any() else np.inf
        phase = np.where(
            cal["t"] < SETTLE_S + seconds,
            "collecting",
            np.where(cal["seq"] < switch, "fitting", "head"),
        )
        print(f"{cal_path} (calibrating) vs {off_path} (--calibrate 0), us")
        for name in ("collecting", "fitting", "head", "all"):
            mine = np.ones(len(phase), bool) if name == "all" else phase == name
            same = np.isin(off["seq"], cal["seq"][mine])
            for stage in ("total", "overhead"):
                print(
                    f"  {name:<11}{stage:<9} with {_stats(cal[stage][mine])}"
                    f"  | without {_stats(off[stage][same])}"
                )


if __name__ == "__main__":
    main(sys.argv[1:])
