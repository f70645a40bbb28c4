"""L2-penalised logistic regression by Newton's method (IRLS), in plain NumPy."""

from __future__ import annotations

import numpy as np

__all__ = ["fit_logistic", "sigmoid"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, stable for large ``|z|``."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, np.float64)))


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    penalty: np.ndarray | float,
    weight: np.ndarray | None = None,
    iterations: int = 25,
) -> tuple[np.ndarray, float]:
    """Fit ``P(y=1|x) = sigmoid(x @ w + b)`` minimising weighted log loss + ``0.5 * sum(penalty * w**2)``.

    Parameters
    ----------
    x
        ``(T, D)`` inputs.
    y
        ``(T,)`` binary targets.
    penalty
        L2 strength per input (``(D,)``) or for all; the intercept is not penalised.
    weight
        ``(T,)`` sample weights (default 1).
    iterations
        Newton steps at most (it stops earlier once the step is tiny).

    Returns
    -------
    w, b
        Weights ``(D,)`` and intercept.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    t, d = x.shape
    sw = np.ones(t) if weight is None else np.asarray(weight, np.float64)
    xb = np.hstack([x, np.ones((t, 1))])
    lam = np.append(np.broadcast_to(np.asarray(penalty, np.float64), (d,)), 1e-6)
    theta = np.zeros(d + 1)
    for _ in range(iterations):
        p = sigmoid(xb @ theta)
        grad = xb.T @ (sw * (p - y)) + lam * theta
        hess = (xb * (sw * p * (1.0 - p))[:, None]).T @ xb + np.diag(lam)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-6:
            break
    return theta[:d], float(theta[d])
