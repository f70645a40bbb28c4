"""Measure the live path's decoder-added latency: a producer process streams real frames over
ZeroMQ at a fixed rate into a Pipeline running the shipped model; prints per-stage percentiles.

Usage: python tools/live_latency.py [--rate HZ ...] [--seconds S] [--neurons N] [--engine NAME]
       [--busy-poll] [--json OUT]

Neurons beyond the bundled recording's 130 are copies of real traces with a small offset, so the
data stay real-looking at any N. The decoder-added latency is frame received -> prediction sent.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import socket
import threading
import time

import numpy as np
import psutil
import torch
import zmq

from rtdecode.data import bundled_recording
from rtdecode.engines import load_engine
from rtdecode.stream import Pipeline, encode_frame, open_sink, open_source


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _frames(n: int) -> np.ndarray:
    traces = bundled_recording().traces
    reps = -(-n // traces.shape[1])
    tiled = np.concatenate([traces + 0.01 * i for i in range(reps)], axis=1)
    return np.ascontiguousarray(tiled[:, :n])


def _produce(port: int, n: int, rate: float, seconds: float, ready: mp.Event) -> None:
    frames = _frames(n)
    sock = zmq.Context().socket(zmq.XPUB)
    sock.bind(f"tcp://127.0.0.1:{port}")
    sock.poll(30_000)
    sock.recv()  # the decoder subscribed
    ready.set()
    time.sleep(0.5)
    period, start = 1.0 / rate, time.perf_counter()
    for seq in range(int(rate * seconds)):
        due = start + seq * period
        while (now := time.perf_counter()) < due:  # sleep most of the wait, spin the last 0.2 ms
            if due - now > 0.0003:
                time.sleep(due - now - 0.0002)
        sock.send_multipart(
            encode_frame(seq, seq * 0.6, frames[seq % len(frames)], sent_ns=time.perf_counter_ns())
        )
    sock.close(linger=2000)


def measure(rate: float, seconds: float, n: int, engine_name: str, busy_poll: bool) -> dict:
    """One run at ``rate`` frames/s; returns the pipeline summary plus memory figures."""
    port, out_port = _free_port(), _free_port()
    ready = mp.get_context("spawn").Event()
    producer = mp.get_context("spawn").Process(
        target=_produce, args=(port, n, rate, seconds, ready)
    )
    producer.start()
    rss: list[float] = []
    process = psutil.Process()

    def sample_rss(_: Pipeline) -> None:
        rss.append(process.memory_info().rss / 2**20)

    pipeline = Pipeline(
        open_source(f"zmq+tcp://127.0.0.1:{port}"),
        load_engine(None, engine_name),
        [open_sink(f"zmq+tcp://127.0.0.1:{out_port}")],
        busy_poll=busy_poll,
        max_frames=int(rate * seconds),
        frame_interval_s=0.6,  # the frames carry the recording's 0.6 s times
        on_status=sample_rss,
    )
    watchdog = threading.Timer(seconds + 60, pipeline.stop)
    watchdog.start()
    summary = pipeline.run()
    watchdog.cancel()
    producer.join(10)
    summary["rate_hz"] = rate
    summary["neurons"] = n
    summary["busy_poll"] = busy_poll
    summary["rss_mib_first_last_max"] = [round(x, 1) for x in (rss[0], rss[-1], max(rss))]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, nargs="+", default=[10.0, 1000.0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--neurons", type=int, default=150)
    parser.add_argument("--engine", default="torch")
    parser.add_argument("--busy-poll", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    print(f"{'rate':>6} {'stage':<11} {'p50':>8} {'p99':>8} {'p99.9':>8} {'max':>8}  (us)")
    for rate in args.rate:
        summary = measure(rate, args.seconds, args.neurons, args.engine, args.busy_poll)
        results.append(summary)
        for stage in ("preprocess", "infer", "publish", "total", "overhead", "transport"):
            s = summary["latency_us"][stage]
            if s["count"]:
                print(
                    f"{rate:6g} {stage:<11} {s['p50']:8.0f} {s['p99']:8.0f} {s['p99.9']:8.0f} {s['max']:8.0f}"
                )
        print(
            f"{rate:6g} frames {summary['frames']} predictions {summary['predictions']} "
            f"skipped {summary['skipped']} dropped {summary['missing_frames']} "
            f"RSS first/last/max {summary['rss_mib_first_last_max']} MiB"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
