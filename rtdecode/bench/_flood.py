"""``rtdecode bench --flood``: the calm streams' latency with and without a flooding neighbour.

One decoder (the real live session: fair shares, turns, the engine) serves ``calm`` streams at
``rate_hz`` (the bundled recording's frames) and ``flood`` more streams, over real ZeroMQ
sockets on loopback. The calm streams are sent from another process, as a microscope would,
for twice ``seconds``; meanwhile each flooding stream, from a process of its own, is switched
off and on every ``block_s`` and, when on, sends frames of ``flood_neurons`` neurons at
``flood_rate_hz`` (0: as fast as the decoder takes them, its socket always full). Each calm
frame belongs to the phase it was sent in (``calm`` or ``flood``; those sent within
``guard_s`` of a switch are left out), so both phases see the same decoder and the same
machine, whatever else runs on it.

The figure is each calm frame's latency from its send to its prediction's publication (one
machine, one clock), pooled over the calm streams, per phase; and where each stream's frames
went (decoded, dropped by the stream's bound, dropped before the decoder read them, left at
the stop), which add up to what was sent: the flood ends with one frame sent alone, once the
queues have drained, so that every loss shows as a gap.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import zmq

from rtdecode.bench._env import capture_environment
from rtdecode.bench._producer import frames_for
from rtdecode.bench._stats import summarize
from rtdecode.bench._wire import free_tcp_port
from rtdecode.data import bundled_recording
from rtdecode.engines import load_engine
from rtdecode.errors import ConfigError
from rtdecode.live import CalibrationSection, DecoderConfig, RunConfig, open_session
from rtdecode.stream import Prediction, Sink, encode_frame, open_source

__all__ = ["FLOOD_SCHEMA", "FloodSettings", "format_flood", "run_flood"]

FLOOD_SCHEMA = "rtdecode-bench-flood/1"
"""Value of the ``schema`` key of a flood results document."""


@dataclass(frozen=True)
class FloodSettings:
    """What one flood measurement runs.

    Parameters
    ----------
    engine
        The decoder's engine.
    calm
        Calm streams (each at ``rate_hz``).
    flood
        Flooding streams.
    rate_hz
        The calm streams' frame rate.
    flood_rate_hz
        Each flooding stream's frame rate; 0 sends as fast as the decoder takes them (its
        socket always full; the sender waits while it is).
    flood_neurons
        Neurons per flooding frame (2048: the most a decoder serves by default).
    seconds
        Seconds of each phase: the calm streams stream for twice this, the flood switched on
        and off every ``block_s`` (so that both phases see the same machine).
    drain_s
        Wait after the last calm frame for its prediction.
    block_s
        Seconds the flood stays off, then on, and so on.
    guard_s
        Calm frames sent this soon after the flood was switched on or off are left out.
    cpu
        Pin the decoder (this process's decode loop) to core ``cpu`` and the senders to the
        other cores, as on a rig where the microscope's streams come from other machines;
        ``None``: no pinning (the senders compete with the decoder for the same cores).
    """

    engine: str = "numba"
    calm: int = 3
    flood: int = 1
    rate_hz: float = 10.0
    flood_rate_hz: float = 1000.0
    flood_neurons: int = 2048
    seconds: float = 10.0
    drain_s: float = 1.0
    block_s: float = 2.0
    guard_s: float = 0.3
    cpu: int | None = None

    def __post_init__(self) -> None:
        if self.calm < 1 or self.flood < 1:
            raise ConfigError(f"--flood needs >= 1 calm and >= 1 flooding stream, got {self}")
        if not self.rate_hz > 0 or self.flood_rate_hz < 0 or not self.seconds > 0:
            raise ConfigError(
                "--flood needs a calm --rate > 0, --flood-rate >= 0 (0: as fast as possible) "
                f"and --seconds > 0; got {self.rate_hz}, {self.flood_rate_hz}, {self.seconds}"
            )
        if self.flood_neurons < 1:
            raise ConfigError(f"--flood-neurons must be >= 1, got {self.flood_neurons}")


class _Stamp(Sink):
    """Records when each prediction of one stream was published."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.published: dict[int, int] = {}

    def open(self, states: tuple[str, ...]) -> None:
        self.states = states

    def publish(self, prediction: Prediction) -> None:
        self.published[prediction.seq] = time.perf_counter_ns()


def _subscribed(port: int) -> zmq.Socket[bytes]:
    """A publisher connected to the decoder's source on ``port``, once the decoder has
    subscribed (an XPUB hears it): no frame is lost to the connection still being made."""
    socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.XPUB)
    socket.connect(f"tcp://127.0.0.1:{port}")
    if not socket.poll(60_000):
        raise ConfigError(f"the decoder's source on port {port} never subscribed")
    socket.recv()
    return socket


def _pin(cores: set[int] | None) -> None:
    """Run this process on ``cores`` (``None``: leave it where it is)."""
    if cores:
        os.sched_setaffinity(0, cores)


def _flood_main(
    port: int,
    neurons: int,
    rate_hz: float,
    flags: tuple[Any, Any],
    tallies: tuple[Any, Any],
    cores: set[int] | None,
) -> None:
    """While the ``on`` flag is set, send frames of ``neurons`` neurons at ``rate_hz`` (0: as
    fast as the decoder takes them); end when ``stop`` is set, leaving the count and this
    process's CPU seconds in ``tallies``; on ``cores`` when given, at the idle priority
    (``SCHED_IDLE``: any other process on the core comes first), as if it ran on a machine of
    its own: otherwise a calm frame, stamped as sent, would wait in its sender for a core the
    flood holds, which is not the decoder's doing (at ``nice`` 10 that wait still reached 4 ms).

    At full speed the sender waits while the decoder's queue is full (ZeroMQ's ``XPUB_NODROP``)
    instead of spinning to drop frames at its own high-water mark: the decoder's socket is full
    all the same, but a spinning sender, even at the idle priority, held up the calm sender on
    their shared core: a trace showed calm frames readable 3-6 ms after their send stamp while
    the decoder sat waiting for them, which a waiting sender does not cause."""
    _pin(cores)
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    (on, stop), (sent, cpu) = flags, tallies
    socket = _subscribed(port)
    if rate_hz == 0:  # a full queue makes the sender wait, not spin dropping frames
        socket.setsockopt(zmq.XPUB_NODROP, 1)
        socket.setsockopt(zmq.SNDTIMEO, 50)  # and look at the flags while it waits
    frames = frames_for(neurons)
    seq = 0
    while not stop.is_set():
        if not on.wait(0.05):
            continue
        start, first = time.monotonic(), seq
        while on.is_set():
            if rate_hz > 0:
                time.sleep(max(0.0, start + (seq - first) / rate_hz - time.monotonic()))
            try:
                socket.send_multipart(encode_frame(seq, seq * 0.001, frames[seq % len(frames)]))
            except zmq.Again:  # the decoder's queue stayed full for 50 ms
                continue
            seq += 1
    time.sleep(1.0)  # the queues drain; then a last frame, so that every loss shows as a gap
    socket.send_multipart(encode_frame(seq, seq * 0.001, frames[seq % len(frames)]))
    sent.value = seq + 1
    cpu.value = time.process_time()
    socket.close(linger=2000)


def _calm_main(
    ports: list[int],
    rate_hz: float,
    seconds: float,
    window: int,
    conn: Connection,
    cores: set[int] | None,
) -> None:
    """Send the bundled recording on every calm port: the first ``window`` frames back to back
    (filling the windows), one second at ``rate_hz`` (the decoder's first predictions, which
    prepare the engine for the frame interval: not measured), then ``seconds`` at ``rate_hz``;
    answer each measured frame's send time (``perf_counter_ns``) per stream. On ``cores`` when
    given."""
    _pin(cores)
    sockets = [_subscribed(port) for port in ports]
    traces = bundled_recording().traces.astype(np.float32)
    for seq in range(window):
        for socket in sockets:
            socket.send_multipart(encode_frame(seq, seq / rate_hz, traces[seq % len(traces)]))
        time.sleep(0.001)
    sent: list[dict[int, int]] = [{} for _ in ports]
    measured = window + math.ceil(rate_hz)
    start = time.monotonic()
    for seq in range(window, measured + int(seconds * rate_hz)):
        time.sleep(max(0.0, start + (seq - window) / rate_hz - time.monotonic()))
        if seq == measured:
            conn.send("measuring")
        for socket, stamps in zip(sockets, sent, strict=True):
            if seq >= measured:
                stamps[seq] = time.perf_counter_ns()
            socket.send_multipart(encode_frame(seq, seq / rate_hz, traces[seq % len(traces)]))
    for socket in sockets:
        socket.close(linger=0)
    conn.send(sent)
    conn.send(time.process_time())


def _measure(settings: FloodSettings, report: Callable[[str], None]) -> dict[str, Any]:
    """One decoder; the calm streams for twice ``seconds`` while the flood is switched on and
    off every ``block_s``; each calm frame goes to the phase it was sent in. With
    ``settings.cpu``, the decode loop (this thread, and the threads it starts) runs on that
    core, the senders on the others."""
    cores = os.sched_getaffinity(0)
    senders_on = None if settings.cpu is None else cores - {settings.cpu}
    try:
        return _measure_on(settings, report, senders_on or None)
    finally:
        os.sched_setaffinity(0, cores)  # the session pinned this thread (``decoder.cpu``)


def _measure_on(
    settings: FloodSettings, report: Callable[[str], None], senders_on: set[int] | None
) -> dict[str, Any]:
    """:func:`_measure` with the senders on ``senders_on`` (``None``: anywhere)."""
    ports = [free_tcp_port() for _ in range(settings.calm + settings.flood)]
    sinks = [_Stamp(f"stream {k + 1}") for k in range(len(ports))]
    config = RunConfig(
        decoder=DecoderConfig(abstain=None, cpu=settings.cpu),
        calibration=CalibrationSection(enabled=False),
    )
    engine = load_engine(None, settings.engine)
    session = open_session(
        config,
        engine=engine,
        sources=[open_source(f"zmq+tcp://127.0.0.1:{port}?bind") for port in ports],
        sinks=[[sink] for sink in sinks],
    )
    spawn = multiprocessing.get_context("spawn")
    counts = [spawn.Value("q", 0) for _ in range(settings.flood)]
    cpus = [spawn.Value("d", 0.0) for _ in range(settings.flood)]
    on, stop = spawn.Event(), spawn.Event()
    here, there = spawn.Pipe()
    rate, neurons = settings.flood_rate_hz, settings.flood_neurons
    processes = [
        spawn.Process(
            target=_flood_main,
            args=(port, neurons, rate, (on, stop), (n, c), senders_on),
            daemon=True,
        )
        for port, n, c in zip(ports[settings.calm :], counts, cpus, strict=True)
    ]
    processes.append(
        spawn.Process(
            target=_calm_main,
            args=(
                ports[: settings.calm],
                settings.rate_hz,
                2 * settings.seconds,
                engine.window,
                there,
                senders_on,
            ),
            daemon=True,
        )
    )
    result: dict[str, Any] = {}
    decoder = threading.Thread(target=lambda: result.update(session.run()), daemon=True)
    decoder.start()
    cpu0, wall0 = time.process_time(), time.monotonic()
    for process in processes:
        process.start()
    try:
        flooded, warmed = _toggle(settings, on, here, report)
        sent: list[dict[int, int]] = here.recv() if here.poll(30) else []
        calm_cpu = here.recv() if here.poll(30) else float("nan")
    finally:
        on.clear()
        stop.set()  # the flood ends first, so that every frame it sent is accounted for
        for process in processes:
            process.join(15)
        time.sleep(settings.drain_s)
        session.stop()
        decoder.join(60)
    cpu = {  # over the whole measurement, warm-up and both phases
        "wall_s": round(time.monotonic() - wall0, 1),
        "decoder_process_s": round(time.process_time() - cpu0, 1),
        "calm_sender_s": round(calm_cpu, 1),
        "flood_senders_s": [round(c.value, 1) for c in cpus],
    }
    tally = _tally(settings, sent, sinks, result, [n.value for n in counts], (flooded, warmed))
    return {**tally, "cpu": cpu}


def _toggle(
    settings: FloodSettings, on: Any, conn: Connection, report: Callable[[str], None]
) -> tuple[list[tuple[int, int]], int]:
    """The flood on while the calm streams warm up (not measured); then off, on, off... every
    ``block_s`` until the calm sender is done. The ``(start, end)`` ns of each measured
    flooded block, and when the warm-up's flood was switched off."""
    on.set()  # while the calm windows fill: the flooding streams' first windows and layout
    conn.recv()  # "measuring"
    on.clear()
    warmed = time.perf_counter_ns()  # the warm-up's flood ends: the first calm phase begins
    blocks: list[tuple[int, int]] = []
    started = time.monotonic()
    while not conn.poll(settings.block_s):
        report(f"flood bench: {time.monotonic() - started:5.1f}/{2 * settings.seconds:.0f} s")
        if on.is_set():
            on.clear()
            blocks[-1] = (blocks[-1][0], time.perf_counter_ns())
        else:
            blocks.append((time.perf_counter_ns(), 2**62))
            on.set()
    return blocks, warmed


def _tally(
    settings: FloodSettings,
    sent: list[dict[int, int]],
    sinks: list[_Stamp],
    summary: dict[str, Any],
    flood_sent: list[int],
    switches: tuple[list[tuple[int, int]], int],
) -> dict[str, Any]:
    """The calm streams' latency per phase (frames sent within ``guard_s`` after a switch,
    the end of the warm-up's flood included, are left out), and where each stream's frames
    went; ``switches`` holds the flooded blocks and when the warm-up's flood ended."""
    flooded, warmed = switches
    if not sent or not summary:
        raise ConfigError("the flood benchmark's calm sender or decoder did not finish")
    starts = np.array([b[0] for b in flooded] + [2**62], dtype=np.int64)
    ends = np.array([warmed] + [b[1] for b in flooded], dtype=np.int64)
    guard = int(settings.guard_s * 1e9)
    phases: dict[str, list[int]] = {"calm": [], "flood": []}
    unpublished = 0
    for k, stamps in enumerate(sent):
        for seq, sent_ns in stamps.items():
            block = int(np.searchsorted(starts, sent_ns, side="right"))  # blocks begun by then
            flooding = block > 0 and sent_ns < ends[block]
            since = sent_ns - (starts[block - 1] if flooding else ends[block])
            published = sinks[k].published.get(seq)
            if published is None:
                unpublished += 1
            elif since >= guard:
                phases["flood" if flooding else "calm"].append(published - sent_ns)
    return {
        "calm_sent": sum(len(s) for s in sent),
        "calm_unpublished": unpublished,
        "flood_blocks": len(flooded),
        "phases": {name: _stats(np.array(got, dtype=np.int64)) for name, got in phases.items()},
        "streams": [
            _stream_row(settings, k, row, flood_sent) for k, row in enumerate(summary["streams"])
        ],
    }


def _stats(latencies: np.ndarray) -> dict[str, Any] | None:
    stats = summarize(latencies)
    return None if stats is None else stats.to_dict()


def _stream_row(
    settings: FloodSettings, k: int, row: dict[str, Any], flood_sent: list[int]
) -> dict[str, Any]:
    """Where one stream's frames went: for a flooding stream, ``sent`` = ``frames`` +
    ``missing_frames`` + ``left_at_stop``, and ``missing_frames`` = ``dropped_oldest`` +
    ``dropped_in_transport``."""
    keys = (
        "frames", "predictions", "warming", "skipped", "missing_frames", "dropped_oldest",
        "dropped_in_transport",
    )  # fmt: skip
    flood = k >= settings.calm
    return {
        "stream": row["stream"],
        "role": "flood" if flood else "calm",
        **({"sent": flood_sent[k - settings.calm]} if flood else {}),
        **{key: row.get(key, 0) for key in keys},
        "left_at_stop": row["source_stats"].get("left_at_stop", 0),
    }


def run_flood(
    settings: FloodSettings, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Measure the calm streams with the flood switched off and on; the results document.

    Returns
    -------
    dict
        ``schema``, ``settings``, ``environment`` (with the load average before and after),
        ``phases`` (``calm`` and ``flood``: the calm streams' send -> published latency, us),
        ``streams`` (where every stream's frames went), ``p99_ratio`` (the calm streams'
        p99 under the flood over their p99 without), ``calm_sent``, ``calm_unpublished``,
        ``flood_blocks``, and ``cpu`` (CPU seconds of the decoder's process and of each
        sender over ``wall_s``: what the machine's cores went to).
    """
    report = progress or (lambda _line: None)
    load_before = _load()
    measured = _measure(settings, report)
    calm, flood = (measured["phases"][name] or {} for name in ("calm", "flood"))
    return {
        "schema": FLOOD_SCHEMA,
        "settings": asdict(settings),
        "environment": {**capture_environment(), "load_average_before": load_before},
        **measured,
        "p99_ratio": round(flood["p99"] / calm["p99"], 2) if calm.get("p99") and flood else None,
    }


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def format_flood(results: dict[str, Any]) -> str:
    """The flood results as text: the calm streams' latency per phase, every stream's frames."""
    s = results["settings"]
    env = results["environment"]
    lines = [
        f"flood bench: {s['calm']} calm streams at {s['rate_hz']:g} Hz, {s['flood']} flooding "
        f"with {s['flood_neurons']} neurons at "
        + (f"{s['flood_rate_hz']:g} Hz" if s["flood_rate_hz"] else "full speed")
        + f", engine {s['engine']}, {s['seconds']:g} s a phase"
        + ("" if s.get("cpu") is None else f", decoder on core {s['cpu']}, senders on the others")
        + "; load average "
        f"{env['load_average_before']} -> {env['load_average']} on {env['cpu_count_usable']} cores",
        f"{'calm streams send->published (ms)':<36}{'p50':>9}{'p99':>9}{'p99.9':>9}{'max':>9}"
        f"{'frames':>9}",
    ]
    for name, st in results["phases"].items():
        st = st or {}
        cells = "".join(
            f"{(st[k] / 1e3 if k in st else float('nan')):>9.2f}"
            for k in ("p50", "p99", "p99_9", "max")
        )
        lines.append(f"{name:<36}{cells}{st.get('count', 0):>9}")
    lines.append(
        f"calm p99 under the flood: x{results['p99_ratio']} the calm phase; calm frames "
        f"sent {results['calm_sent']}, not published {results['calm_unpublished']}; "
        f"{results['flood_blocks']} flood blocks"
    )
    cpu = results["cpu"]
    lines.append(
        f"CPU seconds over {cpu['wall_s']} s: decoder process {cpu['decoder_process_s']}, "
        f"calm sender {cpu['calm_sender_s']}, flood senders {cpu['flood_senders_s']}"
    )
    lines.append(
        "per stream: sent  frames  predictions  warming  skipped  missing "
        "(dropped oldest + in transport)  left at stop"
    )
    for row in results["streams"]:
        lines.append(
            f"  stream {row['stream']} ({row['role']}): {row.get('sent', '-')}  {row['frames']}  "
            f"{row['predictions']}  {row['warming']}  {row['skipped']}  {row['missing_frames']} "
            f"({row['dropped_oldest']} + {row['dropped_in_transport']})  {row['left_at_stop']}"
        )
    return "\n".join(lines)
