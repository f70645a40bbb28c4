"""Causal online normalisation per neuron: running (EWMA) z-score, its time derivative, and
a running skewness of the z-score (channel 2, :func:`skew_step`).

The skewness tells what kind of neuron a trace is from its own longer history: a neuron that
fires in brief bursts (as the reversal interneurons do) is skewed positive, one that is high
most of the time and dips is skewed negative.

State per neuron: running mean, running variance, number of valid samples seen, last z-score.
The smoothing factor of a frame is ``max(1 - exp(-dt / tau), 1 / count)``: the first frames
average cumulatively (so the estimate is usable at once), later ones forget with time constant
``tau`` seconds whatever the frame rate. A NaN or infinite input leaves the state untouched and
repeats the neuron's last z-score with zero derivative (carry forward; the caller masks it).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "N_FEATURES",
    "skew_step",
    "skew_step_reference",
    "zscore_step",
    "zscore_step_reference",
]

N_FEATURES = 3  # channel 0: z-score, channel 1: dz/dt in 1/s, channel 2: running skewness
_Z_CLIP = 10.0


@njit(cache=True, nogil=True, fastmath=False)
def zscore_step(
    x: np.ndarray,
    dt: float,
    tau: float,
    min_var: float,
    mean: np.ndarray,
    var: np.ndarray,
    count: np.ndarray,
    last_z: np.ndarray,
    out: np.ndarray,
    valid: np.ndarray,
) -> int:
    """Advance the per-neuron state by one frame and write features into ``out``.

    Parameters
    ----------
    x
        ``(n,)`` float32 values of this frame.
    dt
        Seconds since the previous frame (ignored for a neuron's first valid sample).
    tau
        Time constant of the running mean and variance, in seconds.
    min_var
        Floor on the running variance, so a flat neuron does not explode.
    mean, var, count, last_z
        ``(n,)`` state arrays, updated in place (float64, float64, int64, float32).
    out
        ``(n, 2)`` float32 output: z-score and its derivative per second.
    valid
        ``(n,)`` bool output: False where ``x`` was not finite.

    Returns
    -------
    int
        Number of non-finite values in ``x``.
    """
    decay = 1.0 - math.exp(-dt / tau) if dt > 0.0 else 0.0
    bad = 0
    for i in range(x.shape[0]):
        value = float(x[i])
        if not math.isfinite(value):
            bad += 1
            valid[i] = False
            out[i, 0] = last_z[i]
            out[i, 1] = 0.0
            continue
        valid[i] = True
        c = count[i] + 1
        count[i] = c
        alpha = max(decay, 1.0 / c)
        delta = value - mean[i]
        mean[i] += alpha * delta
        var[i] = (1.0 - alpha) * (var[i] + alpha * delta * delta)
        z = (value - mean[i]) / math.sqrt(max(var[i], min_var))
        if c == 1:
            z = 0.0
        dz = (z - last_z[i]) / dt if (c > 1 and dt > 0.0) else 0.0
        out[i, 0] = z
        out[i, 1] = dz
        last_z[i] = z
    return bad


def zscore_step_reference(
    x: np.ndarray,
    dt: float,
    tau: float,
    min_var: float,
    mean: np.ndarray,
    var: np.ndarray,
    count: np.ndarray,
    last_z: np.ndarray,
    out: np.ndarray,
    valid: np.ndarray,
) -> int:
    """Plain NumPy version of :func:`zscore_step` with identical semantics (for tests)."""
    x64 = x.astype(np.float64)
    ok = np.isfinite(x64)
    valid[:] = ok
    out[~ok, 0] = last_z[~ok]
    out[~ok, 1] = 0.0
    decay = 1.0 - np.exp(-dt / tau) if dt > 0.0 else 0.0
    count[ok] += 1
    c = count[ok]
    alpha = np.maximum(decay, 1.0 / c)
    delta = x64[ok] - mean[ok]
    mean[ok] += alpha * delta
    var[ok] = (1.0 - alpha) * (var[ok] + alpha * delta * delta)
    z = (x64[ok] - mean[ok]) / np.sqrt(np.maximum(var[ok], min_var))
    z = np.where(c == 1, 0.0, z)
    dz = (z - last_z[ok]) / dt if dt > 0.0 else np.zeros_like(z)
    dz = np.where(c > 1, dz, 0.0)
    out[ok, 0] = z
    out[ok, 1] = dz
    last_z[ok] = z
    return int((~ok).sum())


@njit(cache=True, nogil=True, fastmath=False)
def skew_step(
    dt: float, tau: float, count: np.ndarray, skew: np.ndarray, out: np.ndarray, valid: np.ndarray
) -> None:
    """Update the running skewness from this frame's z-scores (call after :func:`zscore_step`).

    Parameters
    ----------
    dt
        Seconds since the previous frame.
    tau
        Time constant of the skewness average, in seconds.
    count
        ``(n,)`` valid samples per neuron, as advanced by :func:`zscore_step`.
    skew
        ``(n,)`` float64 state, updated in place.
    out
        ``(n, 3)`` float32: reads channel 0 (z), writes channel 2 (skewness).
    valid
        ``(n,)`` bool from :func:`zscore_step`; an invalid neuron keeps its skewness.
    """
    decay = 1.0 - math.exp(-dt / tau) if dt > 0.0 else 0.0
    for i in range(out.shape[0]):
        if valid[i]:
            z = min(max(float(out[i, 0]), -_Z_CLIP), _Z_CLIP)
            alpha = max(decay, 1.0 / count[i])
            skew[i] += alpha * (z * z * z - skew[i])
        out[i, 2] = skew[i]


def skew_step_reference(
    dt: float, tau: float, count: np.ndarray, skew: np.ndarray, out: np.ndarray, valid: np.ndarray
) -> None:
    """Plain NumPy version of :func:`skew_step` with identical semantics (for tests)."""
    decay = 1.0 - np.exp(-dt / tau) if dt > 0.0 else 0.0
    ok = valid.astype(bool)
    z = np.clip(out[ok, 0].astype(np.float64), -_Z_CLIP, _Z_CLIP)
    alpha = np.maximum(decay, 1.0 / count[ok])
    skew[ok] += alpha * (z**3 - skew[ok])
    out[:, 2] = skew
