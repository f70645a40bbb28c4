"""The serial trigger device's line protocol (host <-> device), shared by host and emulator.

ASCII lines ending in ``\\n``. Host to device:

``P<ms>``
    Light on for ``<ms>`` milliseconds (integer, 1 to :data:`MAX_PULSE_MS`), then off.
``O``
    Light off now (the safe state).
``H``
    Heartbeat. The host sends one every :data:`HEARTBEAT_S`; a device that receives no
    line for :data:`HEARTBEAT_TIMEOUT_S` turns the light off and keeps it off until the
    next pulse command (so a host killed with ``kill -9`` cannot leave the light on).
``V``
    Version query; the device answers :data:`VERSION_REPLY`.

Device to host: only the version reply, and ``E <what>`` for a line it did not understand.
"""

from __future__ import annotations

__all__ = [
    "HEARTBEAT",
    "HEARTBEAT_S",
    "HEARTBEAT_TIMEOUT_S",
    "MAX_PULSE_MS",
    "OFF",
    "VERSION_QUERY",
    "VERSION_REPLY",
    "pulse_command",
]

HEARTBEAT = b"H\n"
OFF = b"O\n"
VERSION_QUERY = b"V\n"
VERSION_REPLY = b"rtdecode-trigger 1\n"
MAX_PULSE_MS = 10_000
HEARTBEAT_S = 0.1
HEARTBEAT_TIMEOUT_S = 0.5


def pulse_command(pulse_ms: float) -> bytes:
    """The ``P<ms>`` line for a pulse of ``pulse_ms`` milliseconds (rounded, at least 1)."""
    ms = min(max(round(pulse_ms), 1), MAX_PULSE_MS)
    return b"P%d\n" % ms
