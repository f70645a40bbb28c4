"""The benchmark's receiver: a process that SUB-scribes and records when each seq arrives.

It listens for frames straight from the producer (the bare ZMQ hop) or for the decoder's
predictions, and records ``time.perf_counter_ns()`` right after each message is received.
"""

from __future__ import annotations

import signal
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

import numpy as np
import zmq

from rtdecode.bench._producer import SEQ_STRIDE
from rtdecode.bench._wire import BenchKeys, message_seq

__all__ = ["consumer_main"]


class _Record:
    """Receive times per topic, plus a countdown per stream that sets the ready event."""

    def __init__(self, ready: Event) -> None:
        self._ready = ready
        self._seqs: dict[bytes, list[int]] = {}
        self._times: dict[bytes, list[int]] = {}
        self._armed: tuple[bytes, np.ndarray] | None = None

    def add(self, topic: bytes, seq: int, recv_ns: int) -> None:
        self._seqs.setdefault(topic, []).append(seq)
        self._times.setdefault(topic, []).append(recv_ns)
        if self._armed is not None and self._armed[0] == topic:
            left = self._armed[1]
            stream = seq // SEQ_STRIDE
            if stream < left.size:
                left[stream] -= 1
            if left.max() <= 0:
                self._armed = None
                self._ready.set()

    def arm(self, topic: bytes, count: int, streams: int = 1) -> None:
        self._ready.clear()
        self._armed = (topic, np.full(streams, count))

    def collect(self, topic: bytes) -> tuple[np.ndarray, np.ndarray]:
        seqs = np.asarray(self._seqs.pop(topic, []), dtype=np.int64)
        times = np.asarray(self._times.pop(topic, []), dtype=np.int64)
        return seqs, times


def consumer_main(conn: Connection, ready: Event, keys: BenchKeys | None = None) -> None:
    """Serve receiving commands until told to stop (the target of the consumer process).

    Commands (tuples received on ``conn``), each answered on ``conn``:

    - ``("listen", endpoint, topic)``: connect and subscribe -> ``None``
    - ``("unlisten", endpoint, topic)``: unsubscribe and disconnect -> ``None``
    - ``("arm", topic, count, streams)``: clear ``ready``; set it once each of the first
      ``streams`` streams (told apart by ``seq // SEQ_STRIDE``) has sent ``count`` more
      messages -> ``None``
    - ``("collect", topic)``: everything received on ``topic`` since the last collect, as
      ``(seq, recv_ns)`` int64 arrays in arrival order
    - ``("stop",)`` -> ``None``, then exit.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the controller stops us on Ctrl-C
    context = zmq.Context()
    socket = context.socket(zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RCVHWM, 100_000)
    if keys is not None:
        keys.make_client(socket)  # a CURVE client of the producer and of the decoder's sink
    poller = zmq.Poller()
    poller.register(socket, zmq.POLLIN)
    poller.register(conn.fileno(), zmq.POLLIN)
    record = _Record(ready)
    try:
        while True:
            events = dict(poller.poll(1000))
            if socket in events:
                while True:
                    try:
                        parts = socket.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    received = time.perf_counter_ns()
                    record.add(parts[0], message_seq(parts), received)
            if conn.fileno() in events:
                command = conn.recv()
                kind = command[0]
                if kind == "stop":
                    conn.send(None)
                    return
                if kind == "listen":
                    socket.connect(command[1])
                    socket.setsockopt(zmq.SUBSCRIBE, command[2])
                    conn.send(None)
                elif kind == "unlisten":
                    socket.setsockopt(zmq.UNSUBSCRIBE, command[2])
                    socket.disconnect(command[1])
                    conn.send(None)
                elif kind == "arm":
                    record.arm(*command[1:])
                    conn.send(None)
                elif kind == "collect":
                    conn.send(record.collect(command[1]))
                else:
                    conn.send(ValueError(f"unknown consumer command {command!r}"))
    finally:
        socket.close(0)
        context.term()
