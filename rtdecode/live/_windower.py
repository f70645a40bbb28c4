"""The :class:`Windower`: a preallocated ring buffer holding the last W preprocessed frames.

Policy (stated once, applied everywhere):

- Every frame goes through the preprocessor into the ring, one row per frame, in order.
- NaN/inf values are data: the preprocessor carries the neuron's last value forward, marks it
  invalid in ``valid`` (the engine masks it), and the values are counted.
- A gap in ``seq`` (frames lost on the way) is filled as if the missing frames had arrived with
  every value NaN, at evenly spaced times between their neighbours: carried forward and
  masked. At most ``W`` filler rows are written, since more would only push out the same rows.
- A ``seq`` seen before (a retransmit) is a duplicate: dropped and counted, never decoded.
- A ``seq`` up to ``W`` frames behind the newest that was not seen (two frames swapped on the
  way) is late: dropped and counted, never decoded out of order; it had been counted as
  missing when the newer frame arrived, and now counts as late instead.
- A ``seq`` more than ``W`` frames behind the newest means the producer restarted: the window
  and the preprocessing state reset (counted and logged).
- A ``seq`` that jumps ahead by more than :data:`MAX_GAP_FRAMES` is no loss the stream could
  have had: it is treated as a restart too (logged), not as billions of lost frames.
- A frame time that does not increase (the producer's clock went back, or stamps repeat) is
  data the preprocessing cannot trust (its time constants and derivatives use the intervals):
  the frame is taken, counted in ``time_backwards``, the first of each run of such frames is
  logged, and the window stays ``time_suspect`` until that frame has left it.
- A change in neuron count needs a new Windower; the pipeline makes one.
- Nothing is compiled on the live path: the kernels' Numba specialisations for read-only frames
  (views of a wire message) and writable ones (gap fillers, LSL and replay frames) are compiled
  by :func:`compile_kernels`, before the first frame.
"""

from __future__ import annotations

import numpy as np

from rtdecode.config import PreprocessConfig
from rtdecode.log import RateLimitedLog, get_logger
from rtdecode.preprocess import BaselineConfig, BaselineTracker, Preprocessor

__all__ = ["MAX_GAP_FRAMES", "Windower", "compile_kernels"]

_log = get_logger(__name__)
_rate_limited = RateLimitedLog(_log)

MAX_GAP_FRAMES = 1_000_000
"""Largest forward jump in ``seq`` counted as lost frames (over 15 minutes at 1 kHz)."""


def compile_kernels(config: PreprocessConfig, baseline: BaselineConfig | None = None) -> None:
    """Compile every kernel specialisation the live path uses, on one-neuron scratch state.

    Numba compiles one specialisation per argument type, and read-only arrays (frames viewed in
    a wire message) are a type apart from writable ones (gap fillers, LSL and replay frames):
    without this, the first gap in ``seq`` compiled one on the live path (0.35 s). Cheap once
    compiled; :class:`Windower` calls it, and the pipeline before its first frame.

    Parameters
    ----------
    config
        The preprocessing settings.
    baseline
        The baseline settings, for raw fluorescence input.
    """
    scratch = Preprocessor(1, config)
    tracker = None if baseline is None else BaselineTracker(1, baseline)
    out = np.zeros((1, scratch.n_features), np.float32)
    valid = np.zeros(1, np.bool_)
    dff = np.zeros(1, np.float32)
    for writeable in (False, True):
        frame = np.zeros(1, np.float32)
        frame.flags.writeable = writeable
        for t in (0.0, 1.0):
            if tracker is not None:
                tracker.update(frame, t, dff, valid)
            scratch.update(frame, t, out, valid)


class Windower:
    """Last-W-frames window over one stream with a fixed neuron count, with no per-frame allocation.

    Each frame's features are written twice, at rows ``i`` and ``i + W`` of a ``2W``-row
    buffer, so the last ``W`` frames are always one contiguous view (oldest first). Work per
    frame is O(n * F).

    Parameters
    ----------
    window
        Frames per window (W).
    preprocessor
        The stream's :class:`~rtdecode.preprocess.Preprocessor` (its ``n_neurons`` and
        ``n_features`` size the buffer).
    baseline
        For raw fluorescence input: a :class:`BaselineTracker` that turns each frame into
        dF/F before the preprocessor sees it.

    Attributes
    ----------
    frames, missing, gaps, restarts, nan_values, duplicates, late
        Counters: frames pushed, frames lost in ``seq`` gaps, gap events, producer restarts,
        non-finite values received, duplicate frames dropped, late (reordered) frames dropped.
    time_backwards
        Frames whose time did not increase over the frame before.
    """

    def __init__(
        self, window: int, preprocessor: Preprocessor, baseline: BaselineTracker | None = None
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1 frame, got {window}")
        self.window = window
        self.preprocessor = preprocessor
        self.baseline = baseline
        n, f = preprocessor.n_neurons, preprocessor.n_features
        self.n_neurons = n
        self._features = np.zeros((2 * window, n, f), dtype=np.float32)
        self._valid = np.zeros((2 * window, n), dtype=np.bool_)
        # Views made once, so a frame costs no new array objects.
        self._rows = [self._features[i] for i in range(2 * window)]
        self._valid_rows = [self._valid[i] for i in range(2 * window)]
        self._windows = [self._features[i : i + window] for i in range(window)]
        self._valid_windows = [self._valid[i : i + window] for i in range(window)]
        self._missing_frame = np.full(n, np.nan, dtype=np.float32)
        self._dff = np.zeros(n, dtype=np.float32)
        self._dff_valid = np.zeros(n, dtype=np.bool_)
        self._pos = 0
        self._filled_rows = 0
        self._last_seq: int | None = None
        self._last_t = 0.0
        self._first_t = 0.0
        self.frames = 0
        self.missing = 0
        self.gaps = 0
        self.restarts = 0
        self.nan_values = 0
        self.duplicates = 0
        self.late = 0
        self.time_backwards = 0
        self._suspect_left = 0  # frames until the last frame with a bad time leaves the window
        self._seen = np.full(window, -1, dtype=np.int64)  # the seqs of the last W frame slots
        compile_kernels(preprocessor.config, None if baseline is None else baseline.config)

    @property
    def filled(self) -> bool:
        """True once W rows have been written since the last reset."""
        return self._filled_rows >= self.window

    def reset(self) -> None:
        """Forget the window and the preprocessing state (counters are kept)."""
        self.preprocessor.reset()
        if self.baseline is not None:
            self.baseline.reset()
        self._pos = 0
        self._filled_rows = 0
        self._last_seq = None
        self._seen.fill(-1)
        self._suspect_left = 0

    def push(self, frame: np.ndarray, seq: int, t: float) -> bool:
        """Preprocess one ``(n,)`` frame into the ring, applying the gap, duplicate, late and
        restart policy; return whether the frame was taken (False: dropped, counted).

        Parameters
        ----------
        frame
            ``(n,)`` float32 values.
        seq
            The frame's sequence number.
        t
            Its acquisition time in seconds.
        """
        last = self._last_seq
        if last is not None:
            if last - self.window < seq <= last:
                self._drop(seq, last)
                return False
            if seq <= last or seq - last - 1 > MAX_GAP_FRAMES:
                self.restarts += 1
                _log.warning(
                    "seq went from %d to %d: producer restarted (backwards by more than the "
                    "%d-frame window, or a jump over %d frames); window and preprocessing reset",
                    last,
                    seq,
                    self.window,
                    MAX_GAP_FRAMES,
                )
                self.reset()
            elif seq > last + 1:
                self._fill_gap(seq - last - 1, t)
        if self._filled_rows == 0:
            self._first_t = t
        else:
            self._check_time(seq, t)
        self._last_seq = seq
        self._seen[seq % self.window] = seq
        self._last_t = t
        self.frames += 1
        self.nan_values += self._write(frame, t)
        return True

    def _check_time(self, seq: int, t: float) -> None:
        """Count a frame time that does not increase; log the first of each run of them."""
        if t > self._last_t:
            self._suspect_left = max(0, self._suspect_left - 1)
            return
        if self._suspect_left == 0:  # the window was clear of bad times: a new episode
            _log.warning(
                "frame seq %d has time %.6f s, not after the frame before (%.6f s): the "
                "producer's clock went back or repeats; predictions are uncertain until the "
                "window is past it (counted in time_backwards; logged once per episode)",
                seq,
                t,
                self._last_t,
            )
        self.time_backwards += 1
        self._suspect_left = self.window

    @property
    def time_suspect(self) -> bool:
        """A frame in the window had a time that did not increase."""
        return self._suspect_left > 0

    def _drop(self, seq: int, last: int) -> None:
        """Count (and log, rate-limited) a frame that is not decoded: seen already, or late."""
        if self._seen[seq % self.window] == seq:
            self.duplicates += 1
            _rate_limited.warning(
                "duplicate",
                f"frame seq {seq} arrived again (a retransmit; newest {last}): dropped "
                f"({self.duplicates} duplicates so far); window kept",
            )
            return
        self.late += 1
        self.missing -= 1  # it was counted lost when the newer frame came; it is late instead
        self._seen[seq % self.window] = seq
        _rate_limited.warning(
            "late",
            f"frame seq {seq} arrived after seq {last} (reordered on the way): dropped, not "
            f"decoded out of order ({self.late} late so far); window kept",
        )

    def _fill_gap(self, lost: int, t: float) -> None:
        """Write the filler rows of ``lost`` frames before a frame at ``t`` (at most a window).

        An all-NaN frame leaves the preprocessing state as it was (only its time moves on), so
        every filler row is the same: the last one goes through the preprocessing (which keeps
        its time), and the others are copies of it, a flood's gap of a window of 2048-neuron
        rows thus costing one row's work.
        """
        self.missing += lost
        self.gaps += 1
        step = (t - self._last_t) / (lost + 1)
        first = self._pos
        self._write(self._missing_frame, self._last_t + lost * step)
        for _ in range(min(lost, self.window) - 1):
            self._copy_row(first)

    def _copy_row(self, source: int) -> None:
        """Append a copy of ring row ``source`` (and its validity)."""
        np.copyto(self._rows[self._pos], self._rows[source])
        np.copyto(self._valid_rows[self._pos], self._valid_rows[source])
        self._advance()

    def _write(self, frame: np.ndarray, t: float) -> int:
        pos = self._pos
        if self.baseline is not None:
            self.baseline.update(frame, t, self._dff, self._dff_valid)
            frame = self._dff
        bad = self.preprocessor.update(frame, t, self._rows[pos], self._valid_rows[pos])
        self._advance()
        return bad

    def _advance(self) -> None:
        """The row at the write position is complete: mirror it ``W`` rows on, move on."""
        pos, w = self._pos, self.window
        np.copyto(self._rows[pos + w], self._rows[pos])
        np.copyto(self._valid_rows[pos + w], self._valid_rows[pos])
        self._pos = pos + 1 if pos + 1 < w else 0
        self._filled_rows += 1

    def interval_estimate(self) -> float | None:
        """Mean seconds between frames since the last reset (``None`` until it is known)."""
        if self._filled_rows < 2 or not self._last_t > self._first_t:
            return None
        return (self._last_t - self._first_t) / (self._filled_rows - 1)

    def window_view(self) -> tuple[np.ndarray, np.ndarray]:
        """The last W frames: ``(W, n, F)`` float32 features and ``(W, n)`` validity, oldest first.

        Views into the ring: valid until the next :meth:`push`.
        """
        return self._windows[self._pos], self._valid_windows[self._pos]
