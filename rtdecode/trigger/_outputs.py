"""Opening a trigger output from its address: serial device, ZeroMQ or LSL.

The outputs import their interface from :mod:`rtdecode.trigger._output`, and this module imports
each output only when its address asks for it, so no two modules import each other.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from rtdecode.errors import SourceError
from rtdecode.stream import parse_address
from rtdecode.trigger._output import TriggerOutput

__all__ = ["open_trigger_output"]


def open_trigger_output(uri: str, insecure: bool = False) -> TriggerOutput:
    """The output for ``serial://PATH?baud=N``, ``zmq+tcp://HOST:PORT``, ``zmq+ipc://PATH``
    or ``lsl://NAME`` (not yet opened); ``insecure`` allows a plain-text ZeroMQ bind beyond
    loopback.

    Raises
    ------
    SourceError
        For an address of another form, naming the forms understood.
    """
    if uri.startswith("serial://"):
        from rtdecode.trigger._serial import SerialOutput

        parts = urlsplit(uri)
        query = parse_qs(parts.query)
        unknown = sorted(set(query) - {"baud"})
        if unknown or not parts.path:
            raise SourceError(
                f"trigger output '{uri}': use serial:///dev/ttyACM0?baud=115200 "
                f"(a device path, optional baud){'; unknown options ' + str(unknown) if unknown else ''}"
            )
        try:
            baud = int(query.get("baud", ["115200"])[0])
        except ValueError as exc:
            raise SourceError(f"trigger output '{uri}': baud must be an integer") from exc
        device = parts.netloc + parts.path
        if not Path(device).exists():  # before the model loads, not after
            raise SourceError(
                f"trigger output '{uri}': no serial device {device}; plug the trigger board in "
                "and look for it with 'ls /dev/ttyACM* /dev/ttyUSB*'"
            )
        return SerialOutput(device, baud, uri=uri)
    address = parse_address(uri)
    if address.kind == "zmq":
        from rtdecode.trigger._zmq_output import ZmqTriggerOutput

        return ZmqTriggerOutput(address, insecure=insecure)
    from rtdecode.trigger._lsl_output import LslMarkerOutput

    return LslMarkerOutput(address.target, uri)
