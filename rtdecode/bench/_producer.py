"""The benchmark's microscope: a process that streams real frames over ZMQ PUB at a set rate.

It runs in its own process (:func:`producer_main`), takes commands over a pipe, and records the
``time.perf_counter_ns()`` of every send, indexed by sequence number, so the controller can match
them against receive times in other processes on the same machine. The same stamp travels in
the frame header as ``sent_ns`` (a protocol v1 extension the decoder reads), so the decoder's own
summary and session file report the transport time too.
"""

from __future__ import annotations

import signal
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

import numpy as np
import zmq

from rtdecode.bench._wire import BenchKeys
from rtdecode.stream import close_socket, encode_frame, open_socket, parse_address

__all__ = ["SEQ_STRIDE", "frames_for", "producer_main", "stream_schedule"]


def frames_for(n_neurons: int) -> np.ndarray:
    """Return ``(T, n_neurons)`` float32 frames from the bundled real recording.

    Columns repeat the recording's neurons in order when ``n_neurons`` exceeds its count.
    """
    from rtdecode.data import bundled_recording

    traces = bundled_recording().traces
    columns = np.arange(n_neurons) % traces.shape[1]
    return np.ascontiguousarray(traces[:, columns], dtype=np.float32)


SEQ_STRIDE = 10**12
"""Stream k (0-based) numbers its frames from ``k * SEQ_STRIDE``: one consumer socket can tell the
streams' predictions apart by ``seq`` alone, and no two streams share a sequence number."""


def stream_schedule(streams: int, period_ns: int, phase: str) -> np.ndarray:
    """Offset of each stream's frame within a period, in ns.

    ``"locked"``: all 0 (the K frames of a period leave together, as from rigs that share a
    clock); ``"staggered"``: ``k * period / K`` (spread evenly, as far apart as they can be).
    """
    if phase == "locked":
        return np.zeros(streams, dtype=np.int64)
    if phase == "staggered":
        return np.arange(streams, dtype=np.int64) * period_ns // streams
    raise ValueError(f"unknown stream phase {phase!r}; expected 'locked' or 'staggered'")


class _Streamer:
    """Sends frames on PUB sockets (one per stream) on an absolute schedule.

    Frame ``i`` of stream ``k`` has sequence number ``k * SEQ_STRIDE + i`` (``i`` only grows, over
    every phase) and the recording's frame ``i + k * T // K``, so concurrent streams carry
    different activity, as different animals would.
    """

    def __init__(self, sockets: list[zmq.Socket]) -> None:
        self._sockets = sockets
        self._frames: dict[int, np.ndarray] = {}
        self.seq = 0
        self.t = 0.0

    def run(
        self,
        n_neurons: int,
        rate_hz: float,
        n_frames: int | None,
        stop: Event | None,
        timeout_s: float,
        streams: int = 1,
        phase: str = "locked",
    ) -> tuple[int, np.ndarray]:
        """Send ``n_frames`` frames of ``n_neurons`` to each of the first ``streams`` sockets (or
        until ``stop`` is set) at ``rate_hz``.

        Returns the first frame index ``i`` and the ``(streams, frames)`` send times in ns.
        """
        if n_neurons not in self._frames:
            self._frames[n_neurons] = frames_for(n_neurons)
        frames = self._frames[n_neurons]
        period_ns = round(1e9 / rate_hz)
        offsets = stream_schedule(streams, period_ns, phase)
        shifts = [k * len(frames) // streams for k in range(streams)]
        limit = n_frames if n_frames is not None else int(timeout_s * rate_hz) + 1
        sent = np.zeros((streams, limit), dtype=np.int64)
        first = self.seq
        deadline = time.perf_counter_ns() + int(timeout_s * 1e9)
        next_ns = time.perf_counter_ns()
        count = 0
        while count < limit:
            if stop is not None and stop.is_set():
                break
            for k in range(streams):
                wait = next_ns + offsets[k] - time.perf_counter_ns()
                if wait > 0:
                    time.sleep(wait / 1e9)
                stamp = time.perf_counter_ns()
                sent[k, count] = stamp
                frame = frames[(self.seq + shifts[k]) % len(frames)]
                seq = k * SEQ_STRIDE + self.seq
                self._sockets[k].send_multipart(encode_frame(seq, self.t, frame, sent_ns=stamp))
            count += 1
            self.seq += 1
            self.t += 1.0 / rate_hz
            next_ns += period_ns
            if sent[0, count - 1] > deadline:
                break
        return first, sent[:, :count]


def producer_main(
    conn: Connection, ready: Event, keys: BenchKeys | None = None, sockets: int = 1
) -> None:
    """Serve streaming commands until told to stop (the target of the producer process).

    Commands (tuples received on ``conn``), each answered on ``conn``:

    - ``("stream", n_neurons, rate_hz, n_frames, streams, phase)`` -> ``(first, send_ns)``
    - ``("warmup", n_neurons, rate_hz, timeout_s, streams)``: stream until ``ready`` is set or
      ``timeout_s`` has passed -> ``(first, send_ns)``
    - ``("stop",)`` -> ``None``, then exit.

    ``streams`` is how many of the sockets to send on (from the first), ``phase`` how their
    frames line up (:func:`stream_schedule`); the answer is the first frame index and the
    ``(streams, frames)`` send times (:class:`_Streamer`).

    The first message on ``conn`` is the list of the ``sockets`` bound endpoints
    ``"tcp://127.0.0.1:PORT"``. With ``keys``, each socket is a CURVE server that lets in the
    bench's client key.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the controller stops us on Ctrl-C
    query = "" if keys is None else f"&{keys.server_query}"
    bound = [
        open_socket(
            parse_address(f"zmq+tcp://127.0.0.1:0?bind{query}"),
            zmq.PUB,
            bind_default=True,
            options={zmq.LINGER: 0, zmq.SNDHWM: 100_000},
            what="frames",
        )[0]
        for _ in range(sockets)
    ]
    streamer = _Streamer(bound)
    conn.send([socket.getsockopt_string(zmq.LAST_ENDPOINT) for socket in bound])
    try:
        while True:
            command = conn.recv()
            if command[0] == "stop":
                conn.send(None)
                return
            if command[0] == "stream":
                _, n_neurons, rate_hz, n_frames, streams, phase = command
                conn.send(streamer.run(n_neurons, rate_hz, n_frames, None, 3600.0, streams, phase))
            elif command[0] == "warmup":
                _, n_neurons, rate_hz, timeout_s, streams = command
                conn.send(streamer.run(n_neurons, rate_hz, None, ready, timeout_s, streams))
            else:
                conn.send(ValueError(f"unknown producer command {command!r}"))
    finally:
        for socket in bound:
            close_socket(socket, 0)
