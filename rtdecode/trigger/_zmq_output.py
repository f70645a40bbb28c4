"""ZeroMQ trigger output: every event as ``[b"trigger", json]`` on a PUB socket."""

from __future__ import annotations

import zmq

from rtdecode.stream._address import Address
from rtdecode.stream._zmq_socket import open_sending_socket
from rtdecode.trigger._event import TriggerEvent
from rtdecode.trigger._outputs import TriggerOutput

__all__ = ["TRIGGER_TOPIC", "ZmqTriggerOutput"]

TRIGGER_TOPIC = b"trigger"


class ZmqTriggerOutput(TriggerOutput):
    """Publish events (binds unless the address says ``?connect``); never blocks."""

    def __init__(self, address: Address, hwm: int = 1000) -> None:
        self.uri = address.uri
        self._address = address
        self._hwm = hwm
        self._socket: zmq.Socket[bytes] | None = None

    def open(self) -> None:
        """Bind (or connect) the PUB socket."""
        self._socket = open_sending_socket(self._address, zmq.PUB, self._hwm, 500, "triggers")

    def emit(self, event: TriggerEvent) -> None:
        """Send one event (dropped for subscribers that lag, never blocking the loop)."""
        assert self._socket is not None, "open() the output first"
        self._socket.send_multipart([TRIGGER_TOPIC, event.to_json().encode()], zmq.NOBLOCK)

    def close(self) -> None:
        """Close the socket (queued events get 0.5 s to leave)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
