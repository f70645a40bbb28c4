"""Onset targets and the linear heads fit on them (and on the reversal state) with scikit-learn.

An onset frame is one of the first frames of a reversal that follows forward motion. Calcium
evidence arrives 0.6-1.2 s after the labelled onset, so the target covers the first
``frames`` frames of such a reversal; frames later in a reversal, and onsets that follow
a short forward run (a reversal split in two by the label's threshold), are left out of the
fit ("don't care"), and every forward frame is a negative.
"""

from __future__ import annotations

import numpy as np

from rtdecode.calibration._head import Head

__all__ = ["clean_onsets", "fit_linear", "onset_target"]

ONSET_FRAMES = 3
"""Frames of a reversal counted as its onset (0-1.2 s at 0.6 s per frame)."""
FORWARD_FRAMES = 3
"""Forward frames an onset must follow to be a clean one (1.8 s at 0.6 s per frame)."""


def clean_onsets(reversal: np.ndarray, forward: int = FORWARD_FRAMES) -> np.ndarray:
    """Indices of reversal onsets that follow at least ``forward`` frames of forward motion."""
    y = np.asarray(reversal, bool)
    onsets = np.flatnonzero(y[1:] & ~y[:-1]) + 1
    return np.array([o for o in onsets if o >= forward and not y[o - forward : o].any()], int)


def onset_target(
    reversal: np.ndarray, frames: int = ONSET_FRAMES, forward: int = FORWARD_FRAMES
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame onset target and which frames it is defined on.

    Parameters
    ----------
    reversal
        ``(T,)`` tracked reversal state.
    frames
        Frames from each clean onset on that are positive.
    forward
        Forward frames a clean onset follows.

    Returns
    -------
    target, care
        ``(T,)`` bool each: positive frames, and frames used (forward frames and positives).
    """
    y = np.asarray(reversal, bool)
    target = np.zeros(len(y), bool)
    for onset in clean_onsets(y, forward):
        stop = onset + frames
        target[onset:stop] = y[onset:stop]
    return target, ~y | target


def fit_linear(x: np.ndarray, y: np.ndarray, c: float, weight: np.ndarray | None = None) -> Head:
    """An L2 logistic regression (scikit-learn, both classes weighted equally) as a :class:`Head`.

    Each input is standardised over these rows before the fit (so one ``c`` suits inputs of
    any scale) and the scaling folded back into the weights.

    Parameters
    ----------
    x
        ``(T, D)`` inputs.
    y
        ``(T,)`` binary targets with both classes present.
    c
        Inverse L2 strength (scikit-learn's ``C``).
    weight
        Optional ``(T,)`` sample weights (on top of the class balance).

    Returns
    -------
    Head
    """
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit((x - mean) / scale, np.asarray(y, bool), sample_weight=weight)
    w = model.coef_[0] / scale
    return Head(w, float(model.intercept_[0]) - float(mean @ w))
