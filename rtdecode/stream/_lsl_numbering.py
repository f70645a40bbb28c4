"""Frame numbers for LSL streams: from the time stamps and nominal rate, or a counter channel.

From time stamps (:class:`FrameNumbers`): a frame that arrives more than half an interval after the expected time of the next frame
means ``round(late / interval)`` frames were lost; the expected time comes from a line fitted to
the past frames' (number, stamp) pairs, so that jitter is not taken for loss. A stamp that goes
back by more than half an interval, or a hole longer than ``max_hole_s``, is a restart.

From a frame counter channel (:class:`CounterNumbers`): exact, whatever the stamps do.
"""

from __future__ import annotations

import math

__all__ = ["CounterNumbers", "FrameNumbers"]


class TimeLine:
    """Least-squares line ``t = a + b * seq`` over past frames, older frames forgotten.

    Fitting against frame numbers that include lost frames keeps a hole from bending the
    line (liblsl's own dejitter fits against received samples and smears a hole over the
    next frames). Sums are kept around the newest frame, so they stay small.

    Parameters
    ----------
    halflife_frames
        Frames after which a frame's weight in the fit halves.
    """

    def __init__(self, halflife_frames: float) -> None:
        self._keep = 0.5 ** (1.0 / max(halflife_frames, 1.0))
        self.reset()

    def reset(self) -> None:
        """Forget every frame."""
        self._x0 = 0
        self._y0 = 0.0
        self._w = self._sx = self._sy = self._sxx = self._sxy = 0.0

    def add(self, seq: int, t: float) -> None:
        """Add frame ``seq`` received at time ``t``, re-centring the sums on it."""
        k = self._keep
        dx, dy = float(seq - self._x0), t - self._y0
        w, sx, sy = self._w * k, self._sx * k, self._sy * k
        sxx, sxy = self._sxx * k, self._sxy * k
        # Move the origin to (seq, t), then add the point (0, 0) with weight 1.
        self._sxx = sxx - 2 * dx * sx + dx * dx * w
        self._sxy = sxy - dx * sy - dy * sx + dx * dy * w
        self._sx, self._sy, self._w = sx - dx * w, sy - dy * w, w + 1.0
        self._x0, self._y0 = seq, t

    def predict(self, seq: int, interval: float) -> float | None:
        """The fitted time of frame ``seq`` (``None`` before the first frame).

        Until 8 frames are in, the slope is the nominal ``interval`` and only the offset is
        fitted (a free slope over a few jittered frames can be far off).
        """
        if self._w <= 0:
            return None
        det = self._w * self._sxx - self._sx * self._sx
        if self._w < 8 or det <= 1e-12 * self._w * self._sxx:
            slope = interval
        else:
            slope = (self._w * self._sxy - self._sx * self._sy) / det
        intercept = (self._sy - slope * self._sx) / self._w
        return self._y0 + intercept + slope * (seq - self._x0)


class FrameNumbers:
    """Numbers the frames of one stream from their time stamps.

    Parameters
    ----------
    dejitter
        Give each frame the fitted time instead of its stamp.
    max_hole_s
        A hole in the stamps longer than this is a restart, not lost frames.

    Attributes
    ----------
    next_seq
        Number the next frame gets if none is lost.
    lost
        Frames inferred lost so far.
    """

    def __init__(self, dejitter: bool, max_hole_s: float) -> None:
        self._dejitter = dejitter
        self._max_hole_s = max_hole_s
        self._interval: float | None = None
        self._line = TimeLine(1.0)
        self._last_t: float | None = None
        self.next_seq = 0
        self.lost = 0

    def set_rate(self, rate_hz: float) -> None:
        """Use nominal ``rate_hz`` (0: irregular, frames numbered as they come); restarts if new."""
        interval = 1.0 / rate_hz if rate_hz > 0 else None
        if interval != self._interval:
            self._interval = interval
            self._line = TimeLine(60.0 / interval if interval else 1.0)
            self.restart()

    def restart(self) -> None:
        """Number the next frame 0 (the window sees a restart) and forget the fitted line."""
        self.next_seq = 0
        self._last_t = None
        self._line.reset()

    def seq_of(self, t: float) -> int:
        """The number of the next frame, stamped ``t`` (0 for a restart)."""
        interval, last = self._interval, self._last_t
        if interval is None or last is None:
            return self.next_seq
        expected = self._line.predict(self.next_seq, interval)
        if expected is None:
            expected = last + interval
        late = (t - expected) / interval
        if t < last - 0.5 * interval or late * interval > self._max_hole_s:
            return 0  # back in time, or an absurd hole: a restart
        return self.next_seq + (round(late) if late >= 0.5 else 0)

    def accept(self, seq: int, t: float) -> tuple[int, float]:
        """Record frame ``seq`` stamped ``t``; return the frames lost before it and its time."""
        lost = 0
        if self._last_t is not None:
            if seq > self.next_seq:
                lost = seq - self.next_seq
                self.lost += lost
            elif seq == 0:
                self._line.reset()
        out = t
        if self._interval is not None:
            self._line.add(seq, t)
            fitted = self._line.predict(seq, self._interval) if self._dejitter else None
            if fitted is not None:
                out = fitted
        self.next_seq = seq + 1
        self._last_t = t
        return lost, out


class CounterNumbers:
    """Numbers frames from a frame-counter channel.

    The counter's value after a restart becomes frame 0; a counter that goes back, or jumps
    by more than ``max_jump`` frames, is a restart; a smaller jump counts the frames in between
    as lost. Same interface as :class:`FrameNumbers`.

    Parameters
    ----------
    max_jump
        Largest jump taken as lost frames.
    """

    def __init__(self, max_jump: int = 10**7) -> None:
        self._max_jump = max_jump
        self._base: int | None = None
        self.next_seq = 0
        self.lost = 0

    def set_rate(self, rate_hz: float) -> None:
        """The nominal rate plays no part in counting."""

    def restart(self) -> None:
        """Make the next counter value frame 0."""
        self._base = None
        self.next_seq = 0

    def seq_of(self, counter: float) -> int:
        """The number of the frame whose counter reads ``counter`` (0 for a restart).

        A restart re-bases the counter here, so asking again for the same frame gives 0 again.
        A counter that is not a finite number is taken as the next frame.
        """
        if not math.isfinite(counter):
            return self.next_seq
        value = int(counter)
        if self._base is None:
            self._base = value - self.next_seq
        seq = value - self._base
        if seq < self.next_seq or seq - self.next_seq > self._max_jump:
            self._base = value
            return 0
        return seq

    def accept(self, seq: int, t: float) -> tuple[int, float]:
        """Record frame ``seq`` stamped ``t``; return the frames lost before it and ``t``."""
        lost = max(0, seq - self.next_seq)
        self.lost += lost
        self.next_seq = seq + 1
        return lost, t
