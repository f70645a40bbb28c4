"""ZeroMQ PUB sink: prediction messages of wire protocol v1 (binds by default)."""

from __future__ import annotations

import time
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from rtdecode.stream._address import Address
from rtdecode.stream._protocol import encode_prediction
from rtdecode.stream._sink import Prediction, Sink
from rtdecode.stream._zmq_socket import (
    AllowedClients,
    check_exposure,
    close_socket,
    open_socket,
)

__all__ = ["ZmqSink"]


def _extra(prediction: Prediction) -> dict[str, Any] | None:
    """The optional keys a prediction carries: ``skipped``, ``uncertain``, ``head`` when set."""
    if not (prediction.skipped or prediction.uncertain or prediction.head):
        return None
    extra: dict[str, Any] = {}
    if prediction.skipped:
        extra["skipped"] = prediction.skipped
    if prediction.uncertain:
        extra["uncertain"] = True
    if prediction.head:
        extra["head"] = prediction.head
    return extra


class ZmqSink(Sink):
    """Publish ``[b"pred", json]`` messages on a PUB socket.

    Parameters
    ----------
    address
        Parsed ``zmq+tcp://`` or ``zmq+ipc://`` address; binds unless it says ``?connect``.
    hwm
        Send high-water mark: a subscriber that falls this far behind loses predictions
        instead of slowing the decoder.
    insecure
        Allow a plain-text bind beyond loopback (otherwise refused: use CURVE keys).

    Raises
    ------
    SourceError
        For a plain-text bind beyond loopback without ``insecure``.
    """

    def __init__(self, address: Address, hwm: int = 1000, insecure: bool = False) -> None:
        check_exposure(address, address.zmq_bind(default=True), insecure)
        self.uri = address.uri
        self._address = address
        self._hwm = hwm
        self._socket: zmq.Socket[bytes] | None = None
        self._states: tuple[str, ...] = ()
        self._allowed: AllowedClients | None = None
        self._monitor: zmq.Socket[bytes] | None = None

    def open(self, states: tuple[str, ...]) -> None:
        """Bind (or connect) the PUB socket."""
        options: dict[int, int | bytes] = {zmq.SNDHWM: self._hwm, zmq.LINGER: 500}
        self._socket, self._allowed = open_socket(
            self._address, zmq.PUB, bind_default=True, options=options, what="predictions"
        )
        if self._allowed is not None:  # a CURVE server: plain clients are refused, logged
            self._monitor = self._socket.get_monitor_socket(AllowedClients.EVENTS)
        self._states = states

    def idle(self) -> None:
        """Take the refusals of clients without CURVE keys (logged once, counted)."""
        monitor, allowed = self._monitor, self._allowed
        if monitor is not None and allowed is not None:
            while monitor.poll(0):
                allowed.handle(recv_monitor_message(monitor)["event"])

    @property
    def refused_clients(self) -> int:
        """Subscribers refused so far (CURVE server; 0 otherwise)."""
        self.idle()
        return 0 if self._allowed is None else self._allowed.refused

    def publish(self, prediction: Prediction) -> None:
        """Send one prediction (never blocks: PUB drops for subscribers that lag)."""
        assert self._socket is not None, "open() the sink first"
        latency_us = (time.perf_counter_ns() - prediction.recv_ns) / 1e3
        message = encode_prediction(
            prediction.seq,
            prediction.t,
            self._states,
            prediction.probs,
            latency_us,
            _extra(prediction),
        )
        self._socket.send_multipart(message, zmq.NOBLOCK)

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Close the socket (waits up to 0.5 s for queued predictions to leave)."""
        if self._socket is not None:
            if self._monitor is not None:
                self.idle()
                self._socket.disable_monitor()
                self._monitor.close(linger=0)
                self._monitor = None
            close_socket(self._socket)
            self._socket = None
