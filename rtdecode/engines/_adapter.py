"""Maps a stream's window onto the model's time grid, into preallocated buffers.

A rig may image at 0.3 to 0.8 s per volume; the network was trained at one frame interval.
The engine keeps ``window`` stream frames; for each of the network's ``model_window`` time
points (spaced ``model_interval`` apart, the last one at the newest frame) it interpolates
linearly between the two nearest stream frames. Time points older than the oldest stream frame
are marked invalid. When the stream runs at the model's rate this is a plain slice.
"""

from __future__ import annotations

import numpy as np

from rtdecode.preprocess._resample import resample_plan

__all__ = ["WindowAdapter"]


class WindowAdapter:
    """Resamples ``(W, n, F)`` stream windows to ``(K, n, F)`` model windows without allocating.

    Parameters
    ----------
    window, model_window
        Stream frames in, model frames out.
    model_interval
        Seconds between model frames.
    stream_interval
        Seconds between stream frames, or ``None`` to assume the model's.
    n_neurons, n_features
        Shape of one frame.
    """

    def __init__(
        self,
        window: int,
        model_window: int,
        model_interval: float,
        stream_interval: float | None,
        n_neurons: int,
        n_features: int,
    ) -> None:
        self.lo, self.hi, weight, inside = resample_plan(
            window, model_window, model_interval, stream_interval
        )
        self.identity = bool(np.all(weight == 0) and np.all(inside))
        self.weight = weight[:, None, None]
        self.keep = (1.0 - weight)[:, None, None]
        self.inside = inside[:, None]
        self.x = np.zeros((model_window, n_neurons, n_features), np.float32)
        self.valid = np.zeros((model_window, n_neurons), np.float32)
        self._hi = np.zeros_like(self.x)
        self._valid_hi = np.zeros((model_window, n_neurons), np.bool_)
        self._valid_lo = np.zeros((model_window, n_neurons), np.bool_)

    def __call__(self, window: np.ndarray, valid: np.ndarray) -> None:
        """Fill :attr:`x` and :attr:`valid` (float 0/1) from one stream window."""
        if self.identity:
            np.take(window, self.lo, axis=0, out=self.x)
            np.take(valid, self.lo, axis=0, out=self._valid_lo)
            self.valid[:] = self._valid_lo
            return
        np.take(window, self.lo, axis=0, out=self.x)
        np.take(window, self.hi, axis=0, out=self._hi)
        self.x *= self.keep
        self._hi *= self.weight
        self.x += self._hi
        np.take(valid, self.lo, axis=0, out=self._valid_lo)
        np.take(valid, self.hi, axis=0, out=self._valid_hi)
        np.logical_and(self._valid_lo, self._valid_hi, out=self._valid_lo)
        np.logical_and(self._valid_lo, self.inside, out=self._valid_lo)
        self.valid[:] = self._valid_lo
