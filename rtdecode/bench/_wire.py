"""Wire protocol v1 as the benchmark's producer and consumer speak it.

The encoding follows ARCHITECTURE.md exactly (``[b"frame", header, payload]`` frames and
``[b"pred", json]`` predictions). It lives here until the live path's protocol module lands in
``rtdecode.stream``, then this module delegates to it.
"""

from __future__ import annotations

import json
import socket

import numpy as np

__all__ = ["FRAME_TOPIC", "PRED_TOPIC", "encode_frame", "free_tcp_port", "message_seq"]

FRAME_TOPIC = b"frame"
PRED_TOPIC = b"pred"


def encode_frame(seq: int, t: float, values: np.ndarray) -> list[bytes]:
    """Encode one frame of ``n`` neuron values as a protocol v1 multipart message.

    Parameters
    ----------
    seq
        Frame sequence number.
    t
        Acquisition time in seconds.
    values
        ``(n,)`` float32 values, C-contiguous.
    """
    header = {"v": 1, "seq": seq, "t": t, "shape": [1, int(values.shape[0])], "dtype": "<f4"}
    return [FRAME_TOPIC, json.dumps(header).encode(), values.astype("<f4", copy=False).tobytes()]


def message_seq(parts: list[bytes]) -> int:
    """Return the ``seq`` of a protocol v1 frame or prediction message (both carry it in part 1)."""
    return int(json.loads(parts[1])["seq"])


def free_tcp_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (for a peer that must bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
