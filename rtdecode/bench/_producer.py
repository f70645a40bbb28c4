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
from rtdecode.stream import encode_frame, parse_address
from rtdecode.stream._zmq_socket import close_socket, open_socket

__all__ = ["frames_for", "producer_main"]


def frames_for(n_neurons: int) -> np.ndarray:
    """Return ``(T, n_neurons)`` float32 frames from the bundled real recording.

    Columns repeat the recording's neurons in order when ``n_neurons`` exceeds its count.
    """
    from rtdecode.data import bundled_recording

    traces = bundled_recording().traces
    columns = np.arange(n_neurons) % traces.shape[1]
    return np.ascontiguousarray(traces[:, columns], dtype=np.float32)


class _Streamer:
    """Sends frames on a PUB socket on an absolute schedule; the sequence number only grows."""

    def __init__(self, socket: zmq.Socket) -> None:
        self._socket = socket
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
    ) -> tuple[int, np.ndarray]:
        """Send ``n_frames`` frames of ``n_neurons`` (or until ``stop`` is set) at ``rate_hz``.

        Returns the first sequence number and the send time of each frame in nanoseconds.
        """
        if n_neurons not in self._frames:
            self._frames[n_neurons] = frames_for(n_neurons)
        frames = self._frames[n_neurons]
        period_ns = round(1e9 / rate_hz)
        limit = n_frames if n_frames is not None else int(timeout_s * rate_hz) + 1
        sent = np.zeros(limit, dtype=np.int64)
        first = self.seq
        deadline = time.perf_counter_ns() + int(timeout_s * 1e9)
        next_ns = time.perf_counter_ns()
        count = 0
        while count < limit:
            if stop is not None and stop.is_set():
                break
            frame = frames[self.seq % len(frames)]
            wait = next_ns - time.perf_counter_ns()
            if wait > 0:
                time.sleep(wait / 1e9)
            stamp = time.perf_counter_ns()
            sent[count] = stamp
            self._socket.send_multipart(encode_frame(self.seq, self.t, frame, sent_ns=stamp))
            count += 1
            self.seq += 1
            self.t += 1.0 / rate_hz
            next_ns += period_ns
            if sent[count - 1] > deadline:
                break
        return first, sent[:count]


def producer_main(conn: Connection, ready: Event, keys: BenchKeys | None = None) -> None:
    """Serve streaming commands until told to stop (the target of the producer process).

    Commands (tuples received on ``conn``), each answered on ``conn``:

    - ``("stream", n_neurons, rate_hz, n_frames)`` -> ``(first_seq, send_ns)``
    - ``("warmup", n_neurons, rate_hz, timeout_s)``: stream until ``ready`` is set or
      ``timeout_s`` has passed -> ``(first_seq, send_ns)``
    - ``("stop",)`` -> ``None``, then exit.

    The first message on ``conn`` is the bound endpoint ``"tcp://127.0.0.1:PORT"``. With
    ``keys``, the socket is a CURVE server that lets in the bench's client key.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the controller stops us on Ctrl-C
    query = "" if keys is None else f"&{keys.server_query}"
    socket, _ = open_socket(
        parse_address(f"zmq+tcp://127.0.0.1:0?bind{query}"),
        zmq.PUB,
        bind_default=True,
        options={zmq.LINGER: 0, zmq.SNDHWM: 100_000},
        what="frames",
    )
    streamer = _Streamer(socket)
    conn.send(socket.getsockopt_string(zmq.LAST_ENDPOINT))
    try:
        while True:
            command = conn.recv()
            if command[0] == "stop":
                conn.send(None)
                return
            if command[0] == "stream":
                _, n_neurons, rate_hz, n_frames = command
                conn.send(streamer.run(n_neurons, rate_hz, n_frames, None, 3600.0))
            elif command[0] == "warmup":
                _, n_neurons, rate_hz, timeout_s = command
                conn.send(streamer.run(n_neurons, rate_hz, None, ready, timeout_s))
            else:
                conn.send(ValueError(f"unknown producer command {command!r}"))
    finally:
        close_socket(socket, 0)
