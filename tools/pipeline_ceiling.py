"""Frames per second the decoder loop sustains in-process, every frame decoded (no sockets).

Replays the bundled recording (neurons repeated to N) as fast as it is read into a
live session (:func:`~rtdecode.live.open_session`) with ``max_batch=1`` (no frame skipped), no
self-calibration, optionally writing a session file, and prints frames/s with the summary's inference and decoder latencies: the
decoder's own ceiling, without the ZeroMQ hop and the producer competing for the cores. Usage::

    python tools/pipeline_ceiling.py --engine numba --neurons 150 [--session /tmp/s.h5]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from rtdecode.data import Recording, bundled_recording
from rtdecode.live import CalibrationSection, DecoderConfig, RunConfig, SourceConfig, open_session
from rtdecode.stream import ReplaySource


def main() -> None:
    """Parse arguments, run the pipeline for ``--frames`` frames, print the rate."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="numba")
    parser.add_argument("--neurons", type=int, default=150)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--session", default=None, help="also write this session file")
    args = parser.parse_args()
    whole = bundled_recording()
    columns = np.arange(args.neurons) % whole.n_neurons
    recording = Recording(
        id=whole.id,
        traces=np.ascontiguousarray(whole.traces[:, columns]),
        timestamps=whole.timestamps,
        labels=[None] * args.neurons,
        reversal=None,
    )
    config = RunConfig(  # one torch thread, as rtdecode run's default
        source=SourceConfig(sinks=(args.session,) if args.session else ()),
        decoder=DecoderConfig(engine=args.engine, max_batch=1, max_frames=args.frames),
        calibration=CalibrationSection(enabled=False),
    )
    source = ReplaySource(recording, speed=float("inf"), loop=True)
    session = open_session(config, sources=[source])
    start = time.perf_counter()
    summary = session.run()
    elapsed = time.perf_counter() - start
    latency = summary["latency_us"]
    print(
        f"{args.engine} n={args.neurons}: {summary['frames'] / elapsed:.0f} frames/s over "
        f"{summary['frames']} frames, predictions {summary['predictions']}, skipped "
        f"{summary['skipped']}; inference p50/p99 {latency['infer']['p50']:.0f}/"
        f"{latency['infer']['p99']:.0f} us, decoder total p50/p99 {latency['total']['p50']:.0f}/"
        f"{latency['total']['p99']:.0f} us; load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
