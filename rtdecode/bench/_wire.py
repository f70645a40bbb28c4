"""The few wire-level helpers the benchmark's peers need beyond :mod:`rtdecode.stream`."""

from __future__ import annotations

import json
import socket

__all__ = ["FRAME_TOPIC", "PRED_TOPIC", "free_tcp_port", "message_seq"]

FRAME_TOPIC = b"frame"
"""First part of a protocol v1 frame message (ARCHITECTURE.md)."""
PRED_TOPIC = b"pred"
"""First part of a protocol v1 prediction message."""


def message_seq(parts: list[bytes]) -> int:
    """Return the ``seq`` of a protocol v1 frame or prediction (both carry it in part 1).

    Only the JSON part is read, so the bare hop measures transport, not payload validation.
    """
    return int(json.loads(parts[1])["seq"])


def free_tcp_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (for a peer that must bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
