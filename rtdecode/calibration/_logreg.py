"""L2-penalised logistic regression: scikit-learn's ``LogisticRegression`` with a penalty per input."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import numpy as np

__all__ = ["fit_logistic", "one_thread", "sigmoid"]


def one_thread() -> AbstractContextManager[Any]:
    """Native math libraries (BLAS, OpenMP) on one thread inside the ``with`` block.

    The fits here are small; with a thread per core on a machine shared by decoding and other
    work, scikit-learn's solver ran 10x slower than on one thread (0.99 s against 0.08 s for a
    280 x 281 fit), and live it would take cores from the decoding thread.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, stable for large ``|z|``."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, np.float64)))


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    penalty: np.ndarray | float,
    weight: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Fit ``P(y=1|x) = sigmoid(x @ w + b)`` minimising weighted log loss + ``0.5 * sum(penalty * w**2)``.

    scikit-learn penalises every weight alike (``0.5 * |w|**2`` against ``C`` times the loss), so
    each input is divided by ``sqrt(penalty)`` before the fit (``C = 1``) and its weight by the
    same after: the same optimum. The intercept is not penalised.

    Parameters
    ----------
    x
        ``(T, D)`` inputs.
    y
        ``(T,)`` binary targets (both classes present).
    penalty
        L2 strength per input (``(D,)``) or for all, > 0.
    weight
        ``(T,)`` sample weights (default 1).

    Returns
    -------
    w, b
        Weights ``(D,)`` and intercept.
    """
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, np.float64)
    root = np.sqrt(np.broadcast_to(np.asarray(penalty, np.float64), (x.shape[1],)))
    model = LogisticRegression(C=1.0, tol=1e-8, max_iter=1000)
    model.fit(x / root, np.asarray(y, bool), sample_weight=weight)
    return model.coef_[0] / root, float(model.intercept_[0])
