"""The plan that maps a window of stream frames onto a model's time grid (linear interpolation).

Shared by the engines' :class:`~rtdecode.engines._adapter.WindowAdapter` (live) and training's
window builder, so both see the same inputs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["resample_plan"]

_SAME_RATE = 0.02  # relative difference of frame interval treated as the same rate


def resample_plan(
    window: int, model_window: int, model_interval: float, stream_interval: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Interpolation indices and weights from ``window`` stream frames to the model grid.

    Returns
    -------
    lo, hi, weight, inside
        ``(model_window,)`` int64 lower and upper stream frame, float32 weight of ``hi``,
        and bool, False where the time point lies before the oldest stream frame.
    """
    k = np.arange(model_window)
    if stream_interval is None or abs(stream_interval / model_interval - 1.0) < _SAME_RATE:
        lo = np.clip(window - model_window + k, 0, window - 1)
        inside = (window - model_window + k) >= 0
        return lo, lo.copy(), np.zeros(model_window, np.float32), inside
    back = (model_window - 1 - k) * model_interval / stream_interval  # frames before the newest
    position = (window - 1) - back
    inside = position >= 0
    position = np.clip(position, 0.0, window - 1)
    lo = np.floor(position).astype(np.int64)
    hi = np.minimum(lo + 1, window - 1)
    weight = (position - lo).astype(np.float32)
    return lo, hi, weight, inside
