"""ZeroMQ trigger output: every event as ``[b"trigger", json]`` on a PUB socket."""

from __future__ import annotations

import zmq

from rtdecode.policy import TriggerEvent
from rtdecode.stream import Address, check_exposure, close_socket, encode_trigger, open_socket
from rtdecode.trigger._output import TriggerOutput

__all__ = ["ZmqTriggerOutput"]


class ZmqTriggerOutput(TriggerOutput):
    """Publish events (binds unless the address says ``?connect``); never blocks.

    Binding beyond loopback needs CURVE keys in the address, or ``insecure``.
    """

    def __init__(self, address: Address, hwm: int = 1000, insecure: bool = False) -> None:
        check_exposure(address, address.zmq_bind(default=True), insecure)
        self.uri = address.uri
        self._address = address
        self._hwm = hwm
        self._socket: zmq.Socket[bytes] | None = None

    def open(self) -> None:
        """Bind (or connect) the PUB socket."""
        options: dict[int, int | bytes] = {zmq.SNDHWM: self._hwm, zmq.LINGER: 500}
        self._socket, _ = open_socket(
            self._address, zmq.PUB, bind_default=True, options=options, what="triggers"
        )

    def emit(self, event: TriggerEvent) -> None:
        """Send one event (dropped for subscribers that lag, never blocking the loop)."""
        assert self._socket is not None, "open() the output first"
        self._socket.send_multipart(encode_trigger(event), zmq.NOBLOCK)

    def close(self) -> None:
        """Close the socket (queued events get 0.5 s to leave)."""
        if self._socket is not None:
            close_socket(self._socket)
            self._socket = None
