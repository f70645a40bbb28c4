"""Play a source into a frame publisher: the loop behind ``rtdecode replay`` and the demo."""

from __future__ import annotations

import threading

from rtdecode.stream._frame_publishers import FramePublisher
from rtdecode.stream._replay import ReplaySource

__all__ = ["play"]


def play(
    source: ReplaySource,
    publisher: FramePublisher,
    stop: threading.Event | None = None,
    max_frames: int | None = None,
) -> int:
    """Send ``source``'s frames through ``publisher`` until it ends, ``stop`` is set or
    ``max_frames`` were sent.

    The publisher must be open; the source is started and stopped here.

    Returns
    -------
    int
        Frames sent.
    """
    stop = stop or threading.Event()
    sent = 0
    source.start()
    try:
        while not stop.is_set() and not source.finished:
            if max_frames is not None and sent >= max_frames:
                break
            chunk = source.read(0.1)
            if chunk is not None:
                publisher.send(chunk)
                sent += chunk.n_frames
    finally:
        source.stop()
    return sent
