"""Size of a session file per hour, with and without the activity ``rtdecode view`` replays.

Writes one simulated hour (``--hours``) at ``--rate`` frames/s through the real
:class:`~rtdecode.stream.SessionFile` writer (every frame decoded, its timing, prediction and
``(n, 3)`` preprocessed row), for each neuron count, storing the activity as float32 (what the
file keeps) and float16 (the alternative), and without the activity; prints MB per hour and
the time ``record_activity`` took per frame (the copy into the block, and the writes when a
block fills: the longest).

    python tools/session_size.py --neurons 150 300
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from rtdecode.stream import FrameTiming, Prediction, SessionFile
from rtdecode.stream import _session_activity as activity_module


def _write(path: Path, n: int, frames: int, rate: float, keep: bool) -> tuple[float, ...]:
    """Write ``frames`` frames; the mean and longest seconds of ``record_activity``, and the
    longest of ``record_frame`` (its blocks of timing rows and predictions)."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(64, n, 3)).astype(np.float32)
    valid = np.ones(n, bool)
    session = SessionFile(path, activity=keep)
    session.open(("forward", "reversal"))
    session.record_layout(tuple(f"N{i}" for i in range(n)), 64, 1 / rate)
    probs = np.array([0.3, 0.7], np.float32)
    spent = longest = longest_frame = 0.0
    for seq in range(frames):
        t = seq / rate
        start = time.perf_counter()
        session.record_frame(
            FrameTiming(seq, t, -1, 0, 1_000, 2_000, 3_000), Prediction(seq, t, probs, 1, 0)
        )
        longest_frame = max(longest_frame, time.perf_counter() - start)
        start = time.perf_counter()
        session.record_activity(seq, t, rows[seq % 64], valid)
        took = time.perf_counter() - start
        spent += took
        longest = max(longest, took)
    session.close({"frames": frames})
    return spent / frames, longest, longest_frame


def main() -> None:
    """Write each variant, print its size per hour."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, nargs="+", default=[150, 300])
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second")
    parser.add_argument("--hours", type=float, default=1.0)
    args = parser.parse_args()
    frames = int(args.rate * 3600 * args.hours)
    print(f"{frames} frames at {args.rate} frames/s; MB = 1e6 bytes, per hour")
    with tempfile.TemporaryDirectory() as folder:
        for n in args.neurons:
            for label, dtype, keep in (
                ("no activity", np.float32, False),
                ("float32", np.float32, True),
                ("float16", np.float16, True),
            ):
                activity_module.ACTIVITY_DTYPE = np.dtype(dtype)
                path = Path(folder) / f"{n}-{label}.h5"
                per_frame, longest, longest_frame = _write(path, n, frames, args.rate, keep)
                size = path.stat().st_size / 1e6 / args.hours
                print(
                    f"{n:4d} neurons, {label:11s}: {size:7.1f} MB/h, record_activity "
                    f"{per_frame * 1e6:5.1f} us/frame mean, {longest * 1e3:5.2f} ms longest; "
                    f"record_frame {longest_frame * 1e3:5.2f} ms longest (blocks written)"
                )


if __name__ == "__main__":
    main()
