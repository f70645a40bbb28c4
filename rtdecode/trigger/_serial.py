"""Serial trigger output: drives the reference device (tools/trigger_device) over its line protocol."""

from __future__ import annotations

import os
import time
from typing import Any

from rtdecode._optional import import_optional
from rtdecode.errors import SourceError
from rtdecode.policy import TriggerEvent
from rtdecode.trigger._device_protocol import (
    HEARTBEAT,
    OFF,
    VERSION_QUERY,
    VERSION_REPLY,
    pulse_command,
)
from rtdecode.trigger._output import TriggerOutput

__all__ = ["SerialOutput"]


class SerialOutput(TriggerOutput):
    """A trigger device on a serial port (USB CDC, or a pty for the emulator).

    Parameters
    ----------
    port
        Device path, e.g. ``/dev/ttyACM0``.
    baud
        Baud rate (USB CDC ignores it; a UART needs the sketch's).
    uri
        The address as given, for messages.
    answer_s
        How long the device has to answer the version query at open (an Arduino reboots
        when the port opens and needs about 2 s).
    write_timeout_s
        A write that cannot complete within this raises ``OSError`` instead of hanging.
    """

    drives = True

    def __init__(
        self,
        port: str,
        baud: int = 115200,
        *,
        uri: str | None = None,
        answer_s: float = 3.0,
        write_timeout_s: float = 0.05,
    ) -> None:
        self.uri = uri or f"serial://{port}?baud={baud}"
        self.port = port
        self._baud = baud
        self._answer_s = answer_s
        self._write_timeout_s = write_timeout_s
        self._serial: Any = None
        self.version = ""

    def open(self) -> None:
        """Open the port, check the device answers the version query, drive the safe state."""
        serial = import_optional("serial", "serial", f"the serial trigger output {self.uri}")
        try:
            port = serial.Serial(
                self.port, self._baud, timeout=0.05, write_timeout=self._write_timeout_s
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise SourceError(
                f"cannot open trigger device {self.uri} ({exc}); check it is plugged in, the "
                "path is right (ls /dev/ttyACM* /dev/ttyUSB*) and you may use it (group dialout)"
            ) from exc
        self._serial = port
        reply = last = b""
        deadline = time.monotonic() + self._answer_s
        try:
            port.reset_input_buffer()
            while time.monotonic() < deadline:
                if not reply:  # ask again only when no answer has begun to arrive
                    port.write(VERSION_QUERY)
                reply += port.read_until(b"\n")  # an answer may arrive over several reads
                if reply == VERSION_REPLY:
                    break
                if reply.endswith(b"\n"):
                    last, reply = reply, b""  # another line (boot noise): ask again
            port.write(OFF)
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise SourceError(
                f"trigger device {self.uri} failed during the handshake ({exc})"
            ) from exc
        if reply != VERSION_REPLY:
            self.close()
            raise SourceError(
                f"trigger device {self.uri} did not answer the version query within "
                f"{self._answer_s:g} s (got {reply or last!r}, expected {VERSION_REPLY!r}); flash it with "
                "tools/trigger_device/trigger_device.ino and check the baud rate"
            )
        self.version = reply.decode().strip()

    def _write(self, line: bytes) -> None:
        """One ``write(2)`` on the non-blocking descriptor: the byte is with the driver when it
        returns. A device whose buffer is full (not reading) or gone raises ``OSError`` at once
        instead of blocking the loop."""
        if self._serial is None:
            raise OSError(f"trigger device {self.uri} is closed")
        written = os.write(self._serial.fd, line)
        if written != len(line):
            raise OSError(
                f"trigger device {self.uri} took {written} of {len(line)} bytes: it is not reading"
            )

    def emit(self, event: TriggerEvent) -> None:
        """A ``fire`` or ``sham`` becomes a pulse; ``off`` and ``disarm`` turn the light off."""
        if event.kind in ("fire", "sham"):
            self._write(pulse_command(event.pulse_ms))
        elif event.kind in ("off", "disarm"):
            self._write(OFF)

    def safe(self) -> None:
        """Light off."""
        self._write(OFF)

    def heartbeat(self) -> None:
        """Keep the device's heartbeat watchdog from turning the light off."""
        self._write(HEARTBEAT)

    def close(self) -> None:
        """Light off (if the device still listens) and close the port."""
        if self._serial is None:
            return
        try:
            self._serial.write(OFF)
        except Exception:  # unplugged: the device's own watchdog turns the light off
            pass
        self._serial.close()
        self._serial = None
