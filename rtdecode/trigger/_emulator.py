"""An emulated trigger device on a pseudo-terminal: the reference firmware's behaviour in Python.

It speaks the line protocol of :mod:`rtdecode.trigger._device_protocol` on the master side
of a real pty (``os.openpty``); the host opens the slave side like any serial port. It keeps
every byte with its arrival time and every change of its light, and flags any byte or line
the protocol does not allow. ``rtdecode demo --trigger`` and the tests use it.
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass

from rtdecode.trigger._device_protocol import HEARTBEAT_TIMEOUT_S, MAX_PULSE_MS, VERSION_REPLY

__all__ = ["CHILD_COMMAND", "DeviceEmulator", "LightChange", "serve_in_child"]

_ALLOWED = frozenset(b"PHOV0123456789\n")

CHILD_COMMAND = "from rtdecode.trigger._emulator import serve_in_child; serve_in_child()"
"""``python -c`` this to run the device in a process of its own."""


@dataclass(frozen=True, slots=True)
class LightChange:
    """The light turned on or off at ``t_ns`` (``perf_counter_ns``), and why.

    ``cause``: ``pulse`` (on), ``pulse_end``, ``off`` (the host's ``O``), ``heartbeat`` (no
    line for the heartbeat timeout).
    """

    t_ns: int
    on: bool
    cause: str


class DeviceEmulator:
    """The emulated device; use as a context manager or call :meth:`close`.

    Parameters
    ----------
    heartbeat_timeout_s
        Light off when no line arrived for this long.
    answer
        Answer the version query (False emulates a device running other firmware).

    Attributes
    ----------
    port
        The slave's path, to open as a serial port (``serial://`` + port).
    received
        ``(t_ns, chunk)`` for every read from the pty: each byte and when it arrived.
    lines
        ``(t_ns, line)`` for every complete line, ``t_ns`` when its last byte arrived.
    light
        Every :class:`LightChange`.
    errors
        Every protocol violation seen (unexpected byte, unknown line, pulse out of range).
    """

    def __init__(
        self, heartbeat_timeout_s: float = HEARTBEAT_TIMEOUT_S, answer: bool = True
    ) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no newline translation: bytes pass as written
        self.port = os.ttyname(self._slave)
        self._timeout_ns = int(heartbeat_timeout_s * 1e9)
        self._answer = answer
        self.received: list[tuple[int, bytes]] = []
        self.lines: list[tuple[int, bytes]] = []
        self.light: list[LightChange] = []
        self.errors: list[str] = []
        self._buffer = b""
        self._on_until = 0  # perf_counter_ns when the current pulse ends; 0 = light off
        self._last_line = 0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="trigger-device", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ state
    @property
    def light_on(self) -> bool:
        """Whether the light is on now."""
        return self._on_until != 0

    def pulses(self) -> list[tuple[int, int]]:
        """``(t_ns, ms)`` of every pulse command received."""
        return [(t, int(line[1:-1])) for t, line in self.lines if line.startswith(b"P")]

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 2.0) -> bool:
        """Poll ``predicate()`` until true or ``timeout_s`` passes; return its last value."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    # ------------------------------------------------------------------ loop
    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.002)
            except (OSError, ValueError):
                return
            now = time.perf_counter_ns()
            if ready:
                try:
                    chunk = os.read(self._master, 4096)
                except OSError:
                    return
                self._take(now, chunk)
            if self._on_until and now >= self._on_until:
                self._switch(now, False, "pulse_end")
            if self._on_until and self._last_line and now - self._last_line > self._timeout_ns:
                self._switch(now, False, "heartbeat")

    def _take(self, now: int, chunk: bytes) -> None:
        self.received.append((now, chunk))
        bad = set(chunk) - _ALLOWED
        if bad:
            self.errors.append(f"unexpected bytes {bytes(sorted(bad))!r} in {chunk!r}")
        self._buffer += chunk
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            self._line(now, line + b"\n")

    def _line(self, now: int, line: bytes) -> None:
        self.lines.append((now, line))
        self._last_line = now
        body = line[:-1]
        if body == b"H":
            return
        if body == b"O":
            if self._on_until:
                self._switch(now, False, "off")
        elif body == b"V":
            if self._answer:
                os.write(self._master, VERSION_REPLY)
        elif body[:1] == b"P" and body[1:].isdigit() and 1 <= int(body[1:]) <= MAX_PULSE_MS:
            if not self._on_until:
                self._switch(now, True, "pulse")
            self._on_until = now + int(body[1:]) * 1_000_000
        else:
            self.errors.append(f"line the protocol does not have: {line!r}")
            os.write(self._master, b"E " + body + b"\n")  # as the firmware answers

    def _switch(self, now: int, on: bool, cause: str) -> None:
        self.light.append(LightChange(now, on, cause))
        if not on:
            self._on_until = 0

    # ------------------------------------------------------------------ life cycle
    def unplug(self) -> None:
        """Pull the cable: close the pty, so the host's next write fails."""
        self.close()

    def close(self) -> None:
        """Stop serving and close both ends of the pty."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._thread.join(1.0)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> DeviceEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_in_child() -> None:
    """Serve on a new pty in this process (run as a child: see :data:`CHILD_COMMAND`).

    Prints the port's path, serves until stdin closes, then prints one JSON line: pulses
    received, protocol errors, lines. A device in its own process shares no interpreter lock
    with the host, as a real device does not: use it to measure the host's latency.
    """
    import json
    import sys

    with DeviceEmulator() as device:
        print(device.port, flush=True)
        sys.stdin.read()
        summary = {
            "pulses": len(device.pulses()),
            "errors": device.errors,
            "lines": len(device.lines),
        }
    print(json.dumps(summary), flush=True)
