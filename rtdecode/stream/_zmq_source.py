"""ZeroMQ SUB source speaking wire protocol v1 (connects to the microscope's PUB by default)."""

from __future__ import annotations

import time

import numpy as np
import zmq

from rtdecode.errors import SourceError
from rtdecode.log import RateLimitedLog, get_logger
from rtdecode.stream._address import Address
from rtdecode.stream._protocol import MalformedMessage, parse_frame
from rtdecode.stream._source import Chunk, Source
from rtdecode.stream._zmq_socket import (
    AllowedClients,
    HandshakeWatch,
    check_exposure,
    close_socket,
    open_socket,
)

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
    insecure
        Allow a plain-text bind beyond loopback (otherwise refused: use CURVE keys).

    Raises
    ------
    SourceError
        For a plain-text bind beyond loopback without ``insecure``.

    Notes
    -----
    Subscribes to every topic so that messages with a wrong topic are counted, not silently
    filtered out.
    """

    def __init__(
        self,
        address: Address,
        hwm: int = 1000,
        max_message_bytes: int = 16 * 2**20,
        insecure: bool = False,
    ) -> None:
        super().__init__()
        check_exposure(address, address.zmq_bind(default=False), insecure)
        self.uri = address.uri
        self._address = address
        self._hwm = hwm
        self._max_bytes = max_message_bytes
        self._socket: zmq.Socket[bytes] | None = None
        self._allowed: AllowedClients | None = None
        self._watch: HandshakeWatch | None = None

    def start(self) -> None:
        """Create the SUB socket and connect (or bind) it."""
        options: dict[int, int | bytes] = {
            zmq.RCVHWM: self._hwm,
            zmq.MAXMSGSIZE: self._max_bytes,
            zmq.LINGER: 0,
            zmq.SUBSCRIBE: b"",
        }
        self._socket, self._allowed = open_socket(
            self._address, zmq.SUB, bind_default=False, options=options, what="frames"
        )
        curve = self._address.curve
        if curve is not None and curve.server_key is not None:
            self._watch = HandshakeWatch(self._socket, self._address)

    def read(self, timeout: float) -> Chunk | None:
        """Return the next valid frame message, or ``None`` after ``timeout`` seconds.

        Malformed messages are counted by reason in :attr:`malformed`, logged, and skipped.
        """
        socket = self._socket
        if socket is None:
            raise SourceError(f"source '{self.uri}' is not started; call start() first")
        deadline = time.monotonic() + timeout
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not socket.poll(remaining_ms, zmq.POLLIN):
                if self._watch is not None:
                    self._watch.check()  # only while idle: nothing arrives when it fails
                return None
            parts = socket.recv_multipart(zmq.NOBLOCK)
            recv_ns = time.perf_counter_ns()
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

    def stats(self) -> dict[str, int]:
        """CURVE: connections refused (a server source), failed handshakes (a client source)."""
        if self._allowed is not None:
            return {"refused_clients": self._allowed.refused}
        if self._watch is not None:
            return {"handshake_failures": self._watch.failures}
        return {}

    def stop(self) -> None:
        """Close the socket."""
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if self._socket is not None:
            close_socket(self._socket, 0)
            self._socket = None
