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
    behavior: bool = False,
) -> int:
    """Send ``source``'s frames through ``publisher`` until it ends, ``stop`` is set or
    ``max_frames`` were sent.

    The publisher must be open (and, with ``behavior``, its behaviour opened with the
    source's ``behavior_fields``); the source is started and stopped here. With ``behavior``,
    each frame's recorded behaviour is sent just before it, with the frame's ``seq`` and time.

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
                for i in range(chunk.n_frames if behavior else 0):
                    seq = chunk.seq + i
                    publisher.send_behavior(seq, float(chunk.t[i]), source.behavior_at(seq))
                publisher.send(chunk)
                sent += chunk.n_frames
    finally:
        source.stop()
    return sent
