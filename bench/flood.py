"""A flooding neighbour: the calm streams' latency with and without one stream flooding.

One decoder serves ``--streams`` calm streams at ``--rate`` Hz (the bundled recording's
frames, real ZeroMQ sockets on loopback) and ``--flood`` more streams. Each phase lasts
``--seconds``:

``calm``
    only the calm streams send (the flooding streams are connected but silent);
``flood``
    the flooding streams send frames of ``--flood-neurons`` neurons as fast as ZeroMQ takes
    them, from another process, with each stream's fair share (the default bound and turn);
``flood-unbounded``
    the same flood, the fair share switched off (a bound and a turn too large to matter:
    the decoder before the fair share), in a second decoder.

The figure is each calm frame's latency from its send to its prediction's publication
(same process clock, loopback: mostly what the decoder added), pooled over the calm streams:
p50/p99/p99.9/max per phase, side by side, with the flood's frames sent, decoded and dropped.
Usage::

    python bench/flood.py --streams 3 --flood 1 --seconds 10 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import threading
import time
from typing import Any

import numpy as np
import zmq

from rtdecode.bench import capture_environment
from rtdecode.data import bundled_recording
from rtdecode.engines import load_engine
from rtdecode.latency import percentiles
from rtdecode.live import CalibrationSection, DecoderConfig, RunConfig, open_session
from rtdecode.stream import FairShare, Prediction, Sink, encode_frame, open_source

_HUGE = 1 << 40


class _Stamp(Sink):
    """Records when each prediction of one stream was published."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.published: dict[int, int] = {}

    def open(self, states: tuple[str, ...]) -> None:
        self.states = states

    def publish(self, prediction: Prediction) -> None:
        self.published[prediction.seq] = time.perf_counter_ns()


def _flood(port: int, neurons: int, seconds: float, sent: Any) -> None:
    """Send frames of ``neurons`` neurons as fast as ZeroMQ takes them for ``seconds``."""
    socket = zmq.Context.instance().socket(zmq.PUB)
    socket.connect(f"tcp://127.0.0.1:{port}")
    time.sleep(0.3)  # the connection is made before the first frame
    traces = bundled_recording().traces.astype(np.float32)
    large = np.tile(traces, (1, neurons // traces.shape[1] + 1))[:, :neurons]
    seq, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        socket.send_multipart(encode_frame(seq, seq * 0.01, large[seq % len(large)]))
        seq += 1
    sent.value = seq
    socket.close(linger=0)


def _calm(
    ports: list[int], rate: float, seconds: float, window: int, sent: list[dict[int, int]]
) -> None:
    """Send the bundled recording's frames on every calm port: the first ``window`` back to
    back (filling the windows, not measured), then ``seconds`` of them at ``rate`` Hz."""
    sockets = []
    for port in ports:
        socket = zmq.Context.instance().socket(zmq.PUB)
        socket.connect(f"tcp://127.0.0.1:{port}")
        sockets.append(socket)
    time.sleep(0.3)
    traces = bundled_recording().traces.astype(np.float32)
    for seq in range(window):
        for socket in sockets:
            socket.send_multipart(encode_frame(seq, seq / rate, traces[seq % len(traces)]))
        time.sleep(0.001)
    start = time.monotonic()
    for seq in range(window, window + int(seconds * rate)):
        time.sleep(max(0.0, start + (seq - window) / rate - time.monotonic()))
        for socket, stamps in zip(sockets, sent, strict=True):
            stamps[seq] = time.perf_counter_ns()
            socket.send_multipart(encode_frame(seq, seq / rate, traces[seq % len(traces)]))
    for socket in sockets:
        socket.close(linger=0)


def _phase(args: argparse.Namespace, flooding: bool, fair: bool) -> dict[str, Any]:
    """One decoder, the calm streams for ``--seconds``, with or without the flood."""
    ports = [_free_port() for _ in range(args.streams + args.flood)]
    sinks = [_Stamp(f"stream {k + 1}") for k in range(len(ports))]
    config = RunConfig(
        decoder=DecoderConfig(abstain=None), calibration=CalibrationSection(enabled=False)
    )
    engine = load_engine(None, args.engine)
    session = open_session(
        config,
        engine=engine,
        sources=[open_source(f"zmq+tcp://127.0.0.1:{port}?bind") for port in ports],
        sinks=[[sink] for sink in sinks],
    )
    if not fair:
        for stream in session.runner.streams:
            assert isinstance(stream.source, FairShare)
            stream.source.max_bytes = stream.source.turn_bytes = _HUGE
    sent: list[dict[int, int]] = [{} for _ in range(args.streams)]
    counts = [multiprocessing.Value("q", 0) for _ in range(args.flood)]
    floods = [
        multiprocessing.Process(
            target=_flood,
            args=(port, args.flood_neurons, args.seconds + 1.0, count),
            daemon=True,
        )
        for port, count in zip(ports[args.streams :], counts, strict=True)
    ]
    calm = threading.Thread(
        target=_calm,
        args=(ports[: args.streams], args.rate, args.seconds, engine.window, sent),
        daemon=True,
    )
    decoder = threading.Thread(target=lambda: result.update(session.run()), daemon=True)
    result: dict[str, Any] = {}
    decoder.start()
    time.sleep(1.0)  # sockets bound, kernels compiled
    for process in floods if flooding else []:
        process.start()
    calm.start()
    calm.join()
    time.sleep(args.drain_s)
    session.stop()
    decoder.join(60)
    for process in floods if flooding else []:
        process.join(10)
    latencies = np.array(
        [
            published - sent[k][seq]
            for k, sink in enumerate(sinks[: args.streams])
            for seq, published in sink.published.items()
            if seq in sent[k]
        ],
        dtype=np.int64,
    )
    keys = ("p50", "p99", "p99.9")
    stats = (
        dict(zip(keys, percentiles(latencies / 1e3, (50, 99, 99.9)), strict=True))
        if latencies.size
        else {}
    )
    flood_rows = result["streams"][args.streams :]
    return {
        "calm_sent": sum(len(s) for s in sent),
        "calm_decoded": int(latencies.size),
        "calm_latency_us": {
            **{key: round(float(value), 1) for key, value in stats.items()},
            "max": round(float(latencies.max()) / 1e3, 1) if latencies.size else None,
        },
        "flood_sent": sum(count.value for count in counts) if flooding else 0,
        "flood_received": sum(row["frames"] for row in flood_rows),
        "flood_decoded": sum(row["predictions"] for row in flood_rows),
        "flood_dropped_oldest": sum(row["dropped_oldest"] for row in flood_rows),
        "flood_missing_frames": sum(row["missing_frames"] for row in flood_rows),
    }


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    """Run the three phases and print them side by side (and write ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=3, help="calm streams")
    parser.add_argument("--flood", type=int, default=1, help="flooding streams")
    parser.add_argument("--rate", type=float, default=10.0, help="calm streams' rate, Hz")
    parser.add_argument("--flood-neurons", type=int, default=2048)
    parser.add_argument("--seconds", type=float, default=10.0, help="each phase's length")
    parser.add_argument("--drain-s", type=float, default=2.0, help="wait after the calm frames")
    parser.add_argument("--engine", default="numba")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    phases = {
        "calm": _phase(args, flooding=False, fair=True),
        "flood": _phase(args, flooding=True, fair=True),
        "flood-unbounded": _phase(args, flooding=True, fair=False),
    }
    calm_p99 = phases["calm"]["calm_latency_us"].get("p99")
    print(f"{'':28s}" + "".join(f"{name:>18s}" for name in phases))
    for key in ("p50", "p99", "p99.9", "max"):
        row = [phase["calm_latency_us"].get(key) for phase in phases.values()]
        print(f"calm streams {key:>6s} (us)     " + "".join(f"{v!s:>18s}" for v in row))
    for key in ("calm_sent", "calm_decoded", "flood_sent", "flood_received", "flood_decoded"):
        print(f"{key:28s}" + "".join(f"{phase[key]!s:>18s}" for phase in phases.values()))
    for key in ("flood_dropped_oldest", "flood_missing_frames"):
        print(f"{key:28s}" + "".join(f"{phase[key]!s:>18s}" for phase in phases.values()))
    if calm_p99:
        for name in ("flood", "flood-unbounded"):
            p99 = phases[name]["calm_latency_us"].get("p99")
            print(f"{name}: calm p99 x{p99 / calm_p99:.2f} the calm run" if p99 else name)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {"args": vars(args), "phases": phases, **capture_environment()}, out, indent=1
            )


if __name__ == "__main__":
    main()
