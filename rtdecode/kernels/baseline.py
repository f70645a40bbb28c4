"""Causal baseline tracking for raw fluorescence: dF/F against a running lower envelope.

Raw fluorescence drifts (bleaching, focus) and sits on a baseline F0 that transients only ever
rise above. Per neuron, F0 follows the signal down quickly (time constant ``tau_fall``) and up
slowly (``tau_rise``), so it hugs the lower envelope; the output is
``(x - F0) / max(|F0|, floor)``. The smoothing factor of a frame is ``1 - exp(-dt / tau)``
with the time constant chosen by the direction; a neuron's first valid sample sets F0 and
gives 0. A NaN or infinite input leaves the state untouched and gives NaN, so the next stage
(the z-score kernel) carries the neuron forward and masks it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["baseline_step", "baseline_step_reference"]


@njit(cache=True, nogil=True, fastmath=False)
def baseline_step(
    x: np.ndarray,
    dt: float,
    tau_rise: float,
    tau_fall: float,
    floor: float,
    baseline: np.ndarray,
    count: np.ndarray,
    out: np.ndarray,
    valid: np.ndarray,
) -> int:
    """Advance each neuron's baseline by one frame and write dF/F into ``out``.

    Parameters
    ----------
    x
        ``(n,)`` float32 raw fluorescence of this frame.
    dt
        Seconds since the previous frame.
    tau_rise, tau_fall
        Time constants (seconds) with which the baseline follows the signal up and down.
    floor
        Smallest ``|F0|`` divided by, so a baseline near zero does not explode.
    baseline, count
        ``(n,)`` float64 and int64 state, updated in place.
    out
        ``(n,)`` float32 dF/F (NaN where the input was not finite).
    valid
        ``(n,)`` bool, False where the input was not finite.

    Returns
    -------
    int
        Number of non-finite values in ``x``.
    """
    rise = 1.0 - math.exp(-dt / tau_rise) if dt > 0.0 else 0.0
    fall = 1.0 - math.exp(-dt / tau_fall) if dt > 0.0 else 0.0
    bad = 0
    for i in range(x.shape[0]):
        value = float(x[i])
        if not math.isfinite(value):
            bad += 1
            valid[i] = False
            out[i] = np.nan
            continue
        valid[i] = True
        if count[i] == 0:
            baseline[i] = value
        else:
            alpha = rise if value > baseline[i] else fall
            baseline[i] += alpha * (value - baseline[i])
        count[i] += 1
        out[i] = (value - baseline[i]) / max(abs(baseline[i]), floor)
    return bad


def baseline_step_reference(
    x: np.ndarray,
    dt: float,
    tau_rise: float,
    tau_fall: float,
    floor: float,
    baseline: np.ndarray,
    count: np.ndarray,
    out: np.ndarray,
    valid: np.ndarray,
) -> int:
    """Plain NumPy version of :func:`baseline_step` with identical semantics (for tests)."""
    x64 = x.astype(np.float64)
    ok = np.isfinite(x64)
    valid[:] = ok
    out[~ok] = np.nan
    rise = 1.0 - np.exp(-dt / tau_rise) if dt > 0.0 else 0.0
    fall = 1.0 - np.exp(-dt / tau_fall) if dt > 0.0 else 0.0
    first = ok & (count == 0)
    later = ok & (count > 0)
    baseline[first] = x64[first]
    alpha = np.where(x64[later] > baseline[later], rise, fall)
    baseline[later] += alpha * (x64[later] - baseline[later])
    count[ok] += 1
    out[ok] = (x64[ok] - baseline[ok]) / np.maximum(np.abs(baseline[ok]), floor)
    return int((~ok).sum())
