"""Reliability of probabilities: expected calibration error."""

from __future__ import annotations

import numpy as np

__all__ = ["expected_calibration_error"]


def expected_calibration_error(truth: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of reversal probabilities, equal-width bins.

    The frames are binned by their predicted probability; ECE is the frame-weighted mean over
    bins of ``|observed reversal fraction - mean predicted probability|``.

    Parameters
    ----------
    truth
        ``(T,)`` binary reversal state.
    probs
        ``(T,)`` predicted reversal probabilities in [0, 1].
    bins
        Number of equal-width bins on [0, 1].

    Returns
    -------
    float
        ECE in [0, 1]; NaN for no frames.
    """
    truth = np.asarray(truth, np.float64)
    probs = np.asarray(probs, np.float64)
    if len(probs) == 0:
        return float("nan")
    index = np.minimum((probs * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins)
    gap = np.abs(
        np.bincount(index, weights=truth, minlength=bins)
        - np.bincount(index, weights=probs, minlength=bins)
    )
    return float(gap.sum() / count.sum())
