"""Trigger outputs: where fires, shams and interlock events go, and how each one is opened."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from rtdecode.errors import SourceError
from rtdecode.stream._address import parse_address
from rtdecode.trigger._event import TriggerEvent

__all__ = ["TriggerOutput", "open_trigger_output"]


class TriggerOutput(ABC):
    """One output of the closed loop.

    A *driving* output (the serial device) turns a light on and off, so it is written first
    and has a safe state; a reporting output (ZeroMQ, LSL) carries every event for other
    programs and recorders. Methods are called under the controller's lock, from the
    decoding thread or the watchdog thread, and must never block for long: a device that
    stops answering raises ``OSError`` (the controller then disarms).
    """

    uri: str
    drives: bool = False

    @abstractmethod
    def open(self) -> None:
        """Open the output; raise :class:`~rtdecode.errors.SourceError` if it cannot be used."""

    @abstractmethod
    def emit(self, event: TriggerEvent) -> None:
        """Carry one event (a driving output turns ``fire``/``sham`` into a pulse)."""

    def safe(self) -> None:  # noqa: B027 - reporting outputs have no safe state
        """Drive the safe state (light off)."""

    def heartbeat(self) -> None:  # noqa: B027 - only devices with a watchdog need it
        """Tell the device the host is alive."""

    @abstractmethod
    def close(self) -> None:
        """Release the output (a driving output is left in its safe state)."""


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
