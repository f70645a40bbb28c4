"""The :class:`Cadence`: when a periodic stream's next frame will arrive, from when its last
frames were taken."""

from __future__ import annotations

from collections import deque

__all__ = ["Cadence"]

_FIRST_ESTIMATE = 4
"""Takes before the first estimate: two spans of two frames each (a history of 3 never had one)."""


class Cadence:
    """Learns a stream's rhythm from the times its frames were taken (``perf_counter_ns``).

    A frame is taken when it arrives or later (after other work), never before. The interval is
    the median, over the last ``history`` takes, of the time two frames take (half the time from
    a take to the one after the next), which a frame taken late does not move, even one in two.
    Each of those takes, moved on by whole intervals, is a time the next frame arrives at or
    before, and the earliest of them is the estimate (a lower envelope): a late take does not
    move it, and one that came earlier than expected moves it at once. A rhythm that changed (a
    burst of frames that filled the window, then the producer's own pace) is learnt within
    ``history`` frames.

    Parameters
    ----------
    history
        Takes remembered.

    Attributes
    ----------
    interval_ns
        The interval between frames (0 until ``_FIRST_ESTIMATE`` takes were seen).
    next_ns
        When the next frame most likely arrives (0 while ``interval_ns`` is).
    """

    def __init__(self, history: int = 9) -> None:
        if history < _FIRST_ESTIMATE:
            raise ValueError(
                f"a Cadence needs a history of >= {_FIRST_ESTIMATE} takes, got {history}"
            )
        self._taken: deque[int] = deque(maxlen=history)
        self.interval_ns = 0
        self.next_ns = 0

    def taken(self, now_ns: int) -> None:
        """A frame (or several at once) was taken at ``now_ns``."""
        taken = self._taken
        taken.append(now_ns)
        if len(taken) < _FIRST_ESTIMATE:
            return
        spans = sorted(taken[i + 2] - taken[i] for i in range(len(taken) - 2))
        interval = self.interval_ns = max(1, spans[len(spans) // 2] // 2)
        self.next_ns = min(
            t + (round((now_ns - t) / interval) + 1) * interval
            for t in taken
            if now_ns - t < len(taken) * interval  # a burst's takes are not projected on
        )
