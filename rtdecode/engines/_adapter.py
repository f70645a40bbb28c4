"""Maps a stream's window onto the model's time grid, into preallocated buffers.

A rig may image at 0.3 to 0.8 s per volume; the network was trained at one frame interval.
The engine keeps ``window`` stream frames; for each of the network's ``model_window`` time
points (spaced ``model_interval`` apart, the last one at the newest frame) it interpolates
linearly between the two nearest stream frames. Time points older than the oldest stream frame
are marked invalid. When the stream runs at the model's rate this is a plain slice.
"""

from __future__ import annotations

import numpy as np
from numba import njit

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
        self.weight = weight
        self.inside = inside
        self.x = np.zeros((model_window, n_neurons, n_features), np.float32)
        self.valid = np.zeros((model_window, n_neurons), np.float32)
        # Compile (or load from Numba's cache) now, not on the first live window.
        self(
            np.zeros((window, n_neurons, n_features), np.float32),
            np.zeros((window, n_neurons), np.bool_),
        )

    def __call__(self, window: np.ndarray, valid: np.ndarray) -> None:
        """Fill :attr:`x` and :attr:`valid` (float 0/1) from one stream window."""
        _resample(
            np.ascontiguousarray(window), np.ascontiguousarray(valid), self.lo, self.hi,
            self.weight, self.inside, self.identity, self.x, self.valid,
        )  # fmt: skip


@njit(cache=True, nogil=True)
def _resample(
    window: np.ndarray,
    valid: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    weight: np.ndarray,
    inside: np.ndarray,
    identity: bool,
    x: np.ndarray,
    x_valid: np.ndarray,
) -> None:
    """``x[k] = window[lo[k]] * (1 - weight[k]) + window[hi[k]] * weight[k]``, rounded to float32
    at each step as NumPy would; ``x_valid[k]`` is 1 where both frames are valid and ``inside[k]``.

    One compiled call instead of three to eleven NumPy ones.
    """
    k_frames = lo.shape[0]
    # Frames as flat rows: the inner loops run over n * F contiguous values and vectorise.
    rows = window.reshape((window.shape[0], window.shape[1] * window.shape[2]))
    out = x.reshape((k_frames, x.shape[1] * x.shape[2]))
    for k in range(k_frames):
        xk, vk = out[k], x_valid[k]
        wa, va = rows[lo[k]], valid[lo[k]]
        if identity:
            for j in range(xk.shape[0]):
                xk[j] = wa[j]
            for i in range(vk.shape[0]):
                vk[i] = np.float32(1.0) if va[i] else np.float32(0.0)
            continue
        wb, vb = rows[hi[k]], valid[hi[k]]
        b = weight[k]
        a = np.float32(1.0) - b
        for j in range(xk.shape[0]):
            xk[j] = wa[j] * a + wb[j] * b
        ok = inside[k]
        for i in range(vk.shape[0]):
            vk[i] = np.float32(1.0) if va[i] and vb[i] and ok else np.float32(0.0)
