"""Per-animal decoding metrics in plain NumPy (no torch): balanced accuracy, AUROC, F1, onset lag."""

from __future__ import annotations

import numpy as np

__all__ = ["auroc", "balanced_accuracy", "f1_score"]


def balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Mean of the recall of each class present in ``truth`` (NaN when ``truth`` is empty)."""
    truth = np.asarray(truth, bool)
    predicted = np.asarray(predicted, bool)
    recalls = [
        float((predicted[truth == c] == c).mean()) for c in (False, True) if (truth == c).any()
    ]
    return float(np.mean(recalls)) if recalls else float("nan")


def auroc(truth: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties).

    NaN when ``truth`` holds only one class.
    """
    truth = np.asarray(truth, bool)
    score = np.asarray(score, np.float64)
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), np.float64)
    sorted_scores = score[order]
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    stops = np.concatenate((boundaries, [len(score)]))
    for a, b in zip(starts, stops, strict=True):
        ranks[order[a:b]] = 0.5 * (a + b - 1) + 1.0
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def f1_score(truth: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of the positive (reversal) class; 0 when there is nothing predicted or true."""
    truth = np.asarray(truth, bool)
    predicted = np.asarray(predicted, bool)
    tp = int((truth & predicted).sum())
    denom = int(truth.sum()) + int(predicted.sum())
    return 2.0 * tp / denom if denom else 0.0
