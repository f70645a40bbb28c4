"""Frame publishers: the sending side of the fake microscope (ZeroMQ PUB or LSL outlet), with
the tracked behaviour beside the frames when asked."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import zmq
from zmq.utils.monitor import recv_monitor_message

from rtdecode.stream._address import Address, parse_address
from rtdecode.stream._lsl_common import pylsl, set_channel_labels
from rtdecode.stream._protocol import encode_behavior, encode_frame
from rtdecode.stream._source import Chunk
from rtdecode.stream._zmq_socket import (
    HandshakeWatch,
    check_exposure,
    close_socket,
    open_socket,
)

__all__ = ["FramePublisher", "LslFramePublisher", "ZmqFramePublisher", "open_frame_publisher"]

_LSL_LINGER_S = 1.0  # how long closed LSL outlets stay up for inlets that still pull


class FramePublisher(ABC):
    """Sends chunks of frames to a decoder."""

    uri: str

    @abstractmethod
    def open(self, n_neurons: int, labels: tuple[str | None, ...] | None, interval: float) -> None:
        """Open the output for frames of ``n_neurons`` values, about ``interval`` s apart."""

    @abstractmethod
    def send(self, chunk: Chunk) -> None:
        """Send the chunk's frames."""

    @abstractmethod
    def open_behavior(self, fields: Sequence[str]) -> None:
        """Get ready to send behaviour samples of ``fields`` (after :meth:`open`)."""

    @abstractmethod
    def send_behavior(self, seq: int, t: float, values: np.ndarray) -> None:
        """Send one behaviour sample (one value per field), taken at ``t`` on the frames' clock."""

    @abstractmethod
    def close(self) -> None:
        """Close the output."""


class ZmqFramePublisher(FramePublisher):
    """Wire protocol v1 frames on a PUB socket (binds unless the address says ``?connect``).

    Parameters
    ----------
    address
        Parsed ``zmq+tcp://`` or ``zmq+ipc://`` address.
    wait_subscribers_s
        After binding, wait up to this long for a first subscriber before sending (PUB drops
        what it sends while nobody is subscribed).
    insecure
        Allow a plain-text bind beyond loopback (otherwise refused: use CURVE keys).

    Attributes
    ----------
    subscribed
        Whether a subscriber ever subscribed (some decoder could get the frames).
    handshake_failures
        Handshakes the server failed (connecting side): a key it refused, or no CURVE where
        it wants it (see :meth:`refused`).
    """

    def __init__(
        self, address: Address, wait_subscribers_s: float = 0.0, insecure: bool = False
    ) -> None:
        check_exposure(address, address.zmq_bind(default=True), insecure)
        self.uri = address.uri
        self._address = address
        self._wait = wait_subscribers_s
        self._socket: zmq.Socket[bytes] | None = None
        self._labels_sent = False
        self._labels: tuple[str | None, ...] | None = None
        self._fields: tuple[str, ...] = ()
        self._monitor: zmq.Socket[bytes] | None = None
        self._watch: HandshakeWatch | None = None
        self.subscribed = False

    def open(self, n_neurons: int, labels: tuple[str | None, ...] | None, interval: float) -> None:
        """Bind (or connect) an XPUB socket and wait for a subscriber if asked."""
        options: dict[int, int | bytes] = {zmq.SNDHWM: 10000, zmq.LINGER: 1000}
        socket, _ = open_socket(
            self._address, zmq.XPUB, bind_default=True, options=options, what="frames"
        )
        if not self._address.zmq_bind(default=True):  # a refusing server shows on this side
            self._watch = HandshakeWatch(socket, self._address)
            self._monitor = socket.get_monitor_socket(HandshakeWatch.EVENTS)
        self._socket = socket
        self._labels = labels
        if self._wait > 0 and socket.poll(int(self._wait * 1000), zmq.POLLIN):
            self._drain()  # a subscription message: someone is listening

    def _drain(self) -> None:
        """Read waiting subscription messages and failed handshakes."""
        assert self._socket is not None
        while self._socket.poll(0, zmq.POLLIN):
            self.subscribed |= self._socket.recv()[:1] == b"\x01"
        monitor, watch = self._monitor, self._watch
        if monitor is not None and watch is not None:
            while monitor.poll(0):
                watch.handle(recv_monitor_message(monitor)["event"])
            watch.tick()  # after a refusal, try again now and then (a key may be added)

    @property
    def handshake_failures(self) -> int:
        """Failed handshakes with the server so far (0 for a binding publisher)."""
        if self._socket is not None:
            self._drain()
        return 0 if self._watch is None else self._watch.failures

    def refused(self) -> str | None:
        """Why no decoder got the frames, when the server refused this side; else ``None``."""
        failures = self.handshake_failures
        if self.subscribed or not failures:
            return None
        return (
            f"the server at {self.uri} refused this side ({failures} failed CURVE "
            "handshakes): no frame was delivered. With a wrong key, add this side's NAME.key "
            "to the server's clients folder; without keys, give key= and server_key="
        )

    def send(self, chunk: Chunk) -> None:
        """Send one v1 message per chunk (labels in every header, so late joiners get them)."""
        assert self._socket is not None, "open() the publisher first"
        self._drain()  # subscription messages must not pile up
        message = encode_frame(
            chunk.seq,
            float(chunk.t[0]),
            chunk.data,
            self._labels,
            sent_ns=time.perf_counter_ns(),
            dt=float(chunk.t[1] - chunk.t[0]) if chunk.n_frames > 1 else None,
        )
        self._socket.send_multipart(message)

    def open_behavior(self, fields: Sequence[str]) -> None:
        """Behaviour goes on the frame socket as ``behavior`` messages."""
        self._fields = tuple(fields)

    def send_behavior(self, seq: int, t: float, values: np.ndarray) -> None:
        """Send one v1 ``behavior`` message."""
        assert self._socket is not None, "open() the publisher first"
        sample = dict(zip(self._fields, values.tolist(), strict=True))
        self._socket.send_multipart(encode_behavior(seq, t, sample))

    def close(self) -> None:
        """Close the socket (waits up to 1 s for queued frames to leave)."""
        if self._socket is not None:
            self._drain()
            if self._monitor is not None:
                self._socket.disable_monitor()
                self._monitor.close(linger=0)
                self._monitor = None
            close_socket(self._socket)
            self._socket = None


class LslFramePublisher(FramePublisher):
    """An LSL outlet with one float32 channel per neuron, labelled with the neuron identities.

    Parameters
    ----------
    address
        Parsed ``lsl://NAME`` address.

    Notes
    -----
    Sample time stamps are LSL ``local_clock()`` at open plus the frame's recording time, so
    at any replay speed the decoder sees the recording's own frame intervals. Behaviour goes
    to a second outlet, ``NAME-behavior`` (type ``"Behavior"``, one channel per field), its
    samples stamped on the same clock.
    """

    def __init__(self, address: Address) -> None:
        self.uri = address.uri
        self._name = address.target
        self._outlet: Any = None
        self._behavior_outlet: Any = None
        self._offset = 0.0
        self._interval = 1.0
        self._t0: float | None = None

    def open(self, n_neurons: int, labels: tuple[str | None, ...] | None, interval: float) -> None:
        """Create the outlet (stream type ``"Calcium"``)."""
        lsl = pylsl(f"publishing frames to LSL stream '{self._name}'")
        info = lsl.StreamInfo(
            self._name,
            "Calcium",
            n_neurons,
            1.0 / interval,
            lsl.cf_float32,
            f"rtdecode-replay-{self._name}",
        )
        set_channel_labels(info, labels or (None,) * n_neurons, "a.u.", "Calcium")
        self._outlet = lsl.StreamOutlet(info)
        self._offset = lsl.local_clock()
        self._interval = interval

    def wait_for_consumers(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for inlets on every outlet; return whether they came."""
        outlets = [o for o in (self._outlet, self._behavior_outlet) if o is not None]
        return all(bool(outlet.wait_for_consumers(timeout)) for outlet in outlets)

    def _stamp(self, t: float) -> float:
        """The LSL time stamp of recording time ``t``."""
        if self._t0 is None:
            self._t0 = t
        return self._offset + t - self._t0

    def send(self, chunk: Chunk) -> None:
        """Push the chunk's frames with their recording times."""
        for i in range(chunk.n_frames):
            self._outlet.push_sample(chunk.data[i], self._stamp(float(chunk.t[i])))

    def open_behavior(self, fields: Sequence[str]) -> None:
        """Create the ``NAME-behavior`` outlet, its channels labelled with ``fields``."""
        lsl = pylsl(f"publishing behaviour to LSL stream '{self._name}-behavior'")
        name = f"{self._name}-behavior"
        info = lsl.StreamInfo(
            name, "Behavior", len(fields), 1.0 / self._interval, lsl.cf_float32, f"rtdecode-{name}"
        )
        set_channel_labels(info, fields, "", "Behavior")
        self._behavior_outlet = lsl.StreamOutlet(info)

    def send_behavior(self, seq: int, t: float, values: np.ndarray) -> None:
        """Push one behaviour sample stamped on the frames' clock (LSL numbers samples itself)."""
        self._behavior_outlet.push_sample(values, self._stamp(t))

    def close(self) -> None:
        """Drop the outlets, after giving connected inlets time to pull the last samples.

        An outlet dropped at once takes the samples its inlets have not pulled yet with it: a
        decoder that was a few frames behind would lose the end of the recording.
        """
        outlets = [o for o in (self._outlet, self._behavior_outlet) if o is not None]
        if any(outlet.have_consumers() for outlet in outlets):
            time.sleep(_LSL_LINGER_S)
        self._outlet = None
        self._behavior_outlet = None


def open_frame_publisher(
    uri: str, wait_subscribers_s: float = 0.0, insecure: bool = False
) -> FramePublisher:
    """A :class:`FramePublisher` for ``zmq+tcp://``, ``zmq+ipc://`` or ``lsl://`` ``uri``.

    ``insecure`` allows a plain-text ZeroMQ bind beyond loopback.
    """
    address = parse_address(uri)
    if address.kind == "zmq":
        return ZmqFramePublisher(address, wait_subscribers_s, insecure)
    return LslFramePublisher(address)
