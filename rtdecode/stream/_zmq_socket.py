"""Open a sending ZeroMQ socket on an :class:`Address`, binding or connecting as it says."""

from __future__ import annotations

import zmq

from rtdecode.errors import SourceError
from rtdecode.stream._address import Address

__all__ = ["open_sending_socket"]


def open_sending_socket(
    address: Address, socket_type: int, hwm: int, linger_ms: int, what: str
) -> zmq.Socket[bytes]:
    """A PUB or XPUB socket bound (the default for senders) or connected to ``address``.

    Parameters
    ----------
    address
        Where to bind or connect.
    socket_type
        ``zmq.PUB`` or ``zmq.XPUB``.
    hwm
        Send high-water mark (messages queued before ZeroMQ drops).
    linger_ms
        How long unsent messages are kept after close.
    what
        What the socket carries, for the error message ("frames", "predictions").
    """
    socket: zmq.Socket[bytes] = zmq.Context.instance().socket(socket_type)
    socket.setsockopt(zmq.SNDHWM, hwm)
    socket.setsockopt(zmq.LINGER, linger_ms)
    try:
        if address.zmq_bind(default=True):
            socket.bind(address.target)
        else:
            socket.connect(address.target)
    except zmq.ZMQError as exc:
        socket.close(linger=0)
        raise SourceError(
            f"cannot open '{address.uri}' for {what} ({exc}); is the port in use by another "
            "program? Pick another port or stop that program"
        ) from exc
    return socket
