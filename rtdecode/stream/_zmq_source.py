"""ZeroMQ SUB source speaking wire protocol v1 (connects to the microscope's PUB by default)."""

from __future__ import annotations

import time

import numpy as np
import zmq
from zmq.utils.monitor import recv_monitor_message

from rtdecode.errors import SourceError
from rtdecode.log import RateLimitedLog, get_logger
from rtdecode.stream._address import Address
from rtdecode.stream._behavior import BehaviorTrack
from rtdecode.stream._protocol import (
    BEHAVIOR_TOPIC,
    MAX_PART_BYTES,
    MalformedMessage,
    frame_count,
    parse_behavior,
    parse_frame,
)
from rtdecode.stream._source import Chunk, RawMessage, Source
from rtdecode.stream._zmq_socket import (
    AllowedClients,
    HandshakeWatch,
    check_exposure,
    close_socket,
    open_socket,
)

__all__ = ["ZmqSource"]

_log = RateLimitedLog(get_logger(__name__))

_WATCHED = zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECTED | zmq.EVENT_CONNECT_RETRIED
_SILENT_S = 0.5  # a connection lost with no reconnect attempt this long after: ZeroMQ gave up
_CHECK_EVERY = 256  # messages between two looks at the connection while messages flow
_LARGE_FRAME_BYTES = 2048 * 4  # a frame of the most neurons a decoder serves by default
_MIN_HWM = 16


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
        Largest message part accepted (the protocol's own limit by default, so every valid
        message fits). With ``hwm`` it bounds the input queue's memory: ``hwm`` messages of
        two parts (header, payload) of at most this size.
    insecure
        Allow a plain-text bind beyond loopback (otherwise refused: use CURVE keys).

    Raises
    ------
    SourceError
        For a plain-text bind beyond loopback without ``insecure``.

    Notes
    -----
    Subscribes to every topic so that messages with a wrong topic are counted, not silently
    filtered out. Behaviour messages go to :attr:`behavior` when it is set (their malformed
    ones are counted there). ZeroMQ drops a peer that sends a larger part and, when this
    socket is the one that connected, never reconnects: the source watches the connection and
    reconnects itself, counting the message as malformed (``too_large``). A ``?bind`` source's
    producer reconnects by itself; the frames lost meanwhile show as a gap in ``seq``.
    """

    waitable = True

    def __init__(
        self,
        address: Address,
        hwm: int = 1000,
        max_message_bytes: int = MAX_PART_BYTES,
        insecure: bool = False,
    ) -> None:
        super().__init__()
        check_exposure(address, address.zmq_bind(default=False), insecure)
        self.uri = address.uri
        self._address = address
        self._hwm = hwm
        self._max_bytes = max_message_bytes
        self._socket: zmq.Socket[bytes] | None = None
        self._monitor: zmq.Socket[bytes] | None = None
        self._lost_at: float | None = None
        self._unchecked = 0
        self._allowed: AllowedClients | None = None
        self._watch: HandshakeWatch | None = None

    def start(self) -> None:
        """Create the SUB socket and connect (or bind) it; watch a connection it makes."""
        options: dict[int, int | bytes] = {
            zmq.RCVHWM: self._hwm,
            zmq.MAXMSGSIZE: self._max_bytes,
            zmq.LINGER: 0,
            zmq.SUBSCRIBE: b"",
        }
        socket, self._allowed = open_socket(
            self._address, zmq.SUB, bind_default=False, options=options, what="frames"
        )
        events = 0
        if not self._address.zmq_bind(default=False):
            events = _WATCHED
            curve = self._address.curve
            if curve is not None and curve.server_key is not None:
                self._watch = HandshakeWatch(socket, self._address)
                events |= HandshakeWatch.EVENTS
        if self._allowed is not None:  # a CURVE server: plain clients are refused, counted
            events |= AllowedClients.EVENTS
        if events:
            self._monitor = socket.get_monitor_socket(events)
        self._socket = socket

    def read(self, timeout: float) -> Chunk | None:
        """Return the next valid frame message, or ``None`` after ``timeout`` seconds.

        Malformed messages are counted by reason in :attr:`malformed`, logged, and skipped;
        behaviour messages are handed to :attr:`behavior` on the way.
        """
        deadline = time.monotonic() + timeout
        while True:
            raw = self.read_raw(max(0.0, deadline - time.monotonic()))
            if raw is None:
                return None
            chunk = self.parse_raw(raw)
            if chunk is not None or time.monotonic() >= deadline:
                return chunk

    def read_raw(self, timeout: float) -> RawMessage | None:
        """The next message's parts and receive time, not parsed, or ``None`` after
        ``timeout`` seconds; behaviour messages are handed to :attr:`behavior` on the way.

        A :class:`~rtdecode.stream.FairShare` reads this way, and parses (:meth:`parse_raw`)
        only the messages it keeps.
        """
        socket = self._socket
        if socket is None:
            raise SourceError(f"source '{self.uri}' is not started; call start() first")
        deadline = time.monotonic() + timeout
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not socket.poll(remaining_ms, zmq.POLLIN):
                self._watch_connection()
                return None
            self._unchecked += 1
            if self._unchecked >= _CHECK_EVERY:
                self._watch_connection()
            parts = socket.recv_multipart(zmq.NOBLOCK)
            recv_ns = time.perf_counter_ns()
            behavior = self.behavior
            if behavior is None or parts[0] != BEHAVIOR_TOPIC:
                return RawMessage(parts, recv_ns)
            self._take_behavior(parts, behavior)
            if time.monotonic() >= deadline:
                return None

    def parse_raw(self, raw: RawMessage) -> Chunk | None:
        """The frames of a message :meth:`read_raw` gave; ``None`` for a malformed one
        (counted by reason in :attr:`malformed`, and logged)."""
        try:
            message = parse_frame(raw.parts)
        except MalformedMessage as exc:
            self.malformed[exc.reason] += 1
            _log.warning(
                f"malformed:{exc.reason}",
                f"{self.uri}: dropped a malformed message ({exc}); see docs/wire-protocol.md",
            )
            return None
        k = message.data.shape[0]
        t = message.t + message.dt * np.arange(k, dtype=np.float64)
        return Chunk(message.data, message.seq, t, raw.recv_ns, message.labels, message.sent_ns)

    def frames_in(self, raw: RawMessage) -> int:
        """How many frames a message holds, read from its header alone (for one dropped
        unparsed); a malformed message is counted as such (:meth:`parse_raw`) and holds 0."""
        count = frame_count(raw.parts)
        if count is None:
            chunk = self.parse_raw(raw)
            return 0 if chunk is None else chunk.n_frames
        return count

    def bound_bytes(self, max_bytes: int) -> None:
        """Hold at most about ``max_bytes`` of frames in the socket's queue (call before
        :meth:`start`): a receive high-water mark of ``max_bytes`` of the largest frames a
        decoder serves by default (2048 neurons; at least 16 messages). Beyond, the
        producer's ZeroMQ discards frames in its own threads, never parsed here; they show
        as ``seq`` gaps. (The kernel's buffer is left as it is: one of a few KiB stalled a
        stream for over a second, TCP waiting on its zero-window timer.)"""
        self._hwm = min(self._hwm, max(_MIN_HWM, max_bytes // _LARGE_FRAME_BYTES))

    @property
    def wait_socket(self) -> zmq.Socket[bytes] | None:
        """The SUB socket, readable when messages wait (``None`` before :meth:`start`)."""
        return self._socket

    @staticmethod
    def _take_behavior(parts: list[bytes], behavior: BehaviorTrack) -> None:
        try:
            sample = parse_behavior(parts)
        except MalformedMessage as exc:
            behavior.count_malformed(exc.reason, exc.detail)
            return
        behavior.add(sample.seq, sample.t, sample.velocity, sample.reversal)

    def _watch_connection(self) -> None:
        """Take the monitor's events: CURVE handshakes, and a connection ZeroMQ gave up on.

        ZeroMQ drops the producer for a part over the size limit and, on the connecting side,
        never reconnects: reconnect, and count the message as malformed (``too_large``).
        """
        self._unchecked = 0
        monitor, socket = self._monitor, self._socket
        if monitor is None or socket is None:
            return
        watch = self._watch
        while monitor.poll(0):
            event = recv_monitor_message(monitor)["event"]
            if self._allowed is not None and event & AllowedClients.EVENTS:
                self._allowed.handle(event)
                continue
            if watch is not None and event & HandshakeWatch.EVENTS:
                watch.handle(event)
                continue
            # A reconnect attempt means the producer went away (or came back): not our limit.
            self._lost_at = time.monotonic() if event == zmq.EVENT_DISCONNECTED else None
        if watch is not None:
            watch.tick()
        if self._lost_at is not None and time.monotonic() - self._lost_at > _SILENT_S:
            self._lost_at = None
            self.malformed["too_large"] += 1
            _log.warning(
                "malformed:too_large",
                f"{self.uri}: a message part over {self._max_bytes} bytes made ZeroMQ drop "
                "the connection; reconnected (frames lost meanwhile show as a gap)",
            )
            socket.disconnect(self._address.target)
            socket.connect(self._address.target)

    def stats(self) -> dict[str, int]:
        """CURVE: connections refused (a server source), failed handshakes (a client source)."""
        if self._allowed is not None:
            self._watch_connection()  # refusals still in the monitor's queue
            return {"refused_clients": self._allowed.refused}
        if self._watch is not None:
            return {"handshake_failures": self._watch.failures}
        return {}

    def stop(self) -> None:
        """Close the socket (and its monitor)."""
        self._watch = None
        if self._monitor is not None and self._socket is not None:
            self._socket.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None
        if self._socket is not None:
            close_socket(self._socket, 0)
            self._socket = None
