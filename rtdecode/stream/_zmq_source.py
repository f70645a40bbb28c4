"""ZeroMQ SUB source speaking wire protocol v1 (connects to the microscope's PUB by default)."""

from __future__ import annotations

import time

import numpy as np
import zmq

from rtdecode.errors import SourceError
from rtdecode.log import RateLimitedLog, get_logger
from rtdecode.stream._address import Address
from rtdecode.stream._behavior import BehaviorTrack
from rtdecode.stream._protocol import (
    BEHAVIOR_TOPIC,
    MalformedMessage,
    parse_behavior,
    parse_frame,
)
from rtdecode.stream._source import Chunk, Source

__all__ = ["ZmqSource"]

_log = RateLimitedLog(get_logger(__name__))


class ZmqSource(Source):
    """Receive frames from a ZeroMQ PUB socket.

    Parameters
    ----------
    address
        Parsed ``zmq+tcp://`` or ``zmq+ipc://`` address; connects unless it says ``?bind``.
    hwm
        Receive high-water mark in messages: at most this many wait in memory; beyond it
        ZeroMQ drops new frames, which the decoder sees and counts as gaps in ``seq``.
    max_message_bytes
        Largest message accepted; ZeroMQ disconnects a peer that sends a larger one (it
        reconnects, and the lost frames show as a gap). With ``hwm`` it bounds the memory the
        input queue can take.

    Notes
    -----
    Subscribes to every topic so that messages with a wrong topic are counted, not silently
    filtered out. Behaviour messages go to :attr:`behavior` when it is set (their malformed
    ones are counted there).
    """

    def __init__(
        self, address: Address, hwm: int = 1000, max_message_bytes: int = 16 * 2**20
    ) -> None:
        super().__init__()
        self.uri = address.uri
        self._address = address
        self._hwm = hwm
        self._max_bytes = max_message_bytes
        self._socket: zmq.Socket[bytes] | None = None

    def start(self) -> None:
        """Create the SUB socket and connect (or bind) it."""
        socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
        socket.setsockopt(zmq.RCVHWM, self._hwm)
        socket.setsockopt(zmq.MAXMSGSIZE, self._max_bytes)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.SUBSCRIBE, b"")
        try:
            if self._address.zmq_bind(default=False):
                socket.bind(self._address.target)
            else:
                socket.connect(self._address.target)
        except zmq.ZMQError as exc:
            socket.close()
            raise SourceError(
                f"cannot open source '{self.uri}' ({exc}); check the host, port or path"
            ) from exc
        self._socket = socket

    def read(self, timeout: float) -> Chunk | None:
        """Return the next valid frame message, or ``None`` after ``timeout`` seconds.

        Malformed messages are counted by reason in :attr:`malformed`, logged, and skipped;
        behaviour messages are handed to :attr:`behavior` on the way.
        """
        socket = self._socket
        if socket is None:
            raise SourceError(f"source '{self.uri}' is not started; call start() first")
        deadline = time.monotonic() + timeout
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not socket.poll(remaining_ms, zmq.POLLIN):
                return None
            parts = socket.recv_multipart(zmq.NOBLOCK)
            recv_ns = time.perf_counter_ns()
            behavior = self.behavior
            if behavior is not None and parts[0] == BEHAVIOR_TOPIC:
                self._take_behavior(parts, behavior)
                if time.monotonic() >= deadline:
                    return None
                continue
            try:
                message = parse_frame(parts)
            except MalformedMessage as exc:
                self.malformed[exc.reason] += 1
                _log.warning(
                    f"malformed:{exc.reason}",
                    f"{self.uri}: dropped a malformed message ({exc}); "
                    "see 'Wire protocol' in the README",
                )
                if time.monotonic() >= deadline:
                    return None
                continue
            k = message.data.shape[0]
            t = message.t + message.dt * np.arange(k, dtype=np.float64)
            return Chunk(message.data, message.seq, t, recv_ns, message.labels, message.sent_ns)

    @staticmethod
    def _take_behavior(parts: list[bytes], behavior: BehaviorTrack) -> None:
        try:
            sample = parse_behavior(parts)
        except MalformedMessage as exc:
            behavior.count_malformed(exc.reason, exc.detail)
            return
        behavior.add(sample.seq, sample.t, sample.velocity, sample.reversal)

    def stop(self) -> None:
        """Close the socket."""
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
