"""The brain-state manifold: principal components of the activity, fitted causally.

The running mean and covariance are updated with each activity row as it arrives (Welford), or
with a batch of rows in order (a finished session replayed up to the slider's time);
the components are the covariance's leading eigenvectors at the time of the latest refit, so a
point is never projected with anything fitted on frames after the newest one shown. Signs are
kept from one refit to the next, so the picture does not flip.
"""

from __future__ import annotations

import numpy as np

__all__ = ["IncrementalPCA"]


class IncrementalPCA:
    """Running principal components of ``n``-dimensional rows.

    Parameters
    ----------
    n
        Dimensions (neurons).
    components
        Components kept (2 or 3).
    """

    def __init__(self, n: int, components: int = 3) -> None:
        self.n = n
        self.k = components
        self.count = 0
        self.mean = np.zeros(n)
        self._scatter = np.zeros((n, n))
        self.components: np.ndarray | None = None  # (k, n)
        self.explained = np.zeros(components)

    def update(self, row: np.ndarray) -> None:
        """Take one row into the running mean and covariance (NaN values count as the mean)."""
        x = np.where(np.isfinite(row), row, self.mean)
        self.count += 1
        delta = x - self.mean
        self.mean += delta / self.count
        self._scatter += np.outer(delta, x - self.mean)

    def update_many(self, rows: np.ndarray) -> None:
        """Take ``(m, n)`` rows at once, in order: the same mean and covariance as :meth:`update`
        on each (the batch's own statistics merged into the running ones, Chan et al. 1979);
        NaN values count as the running mean before the batch."""
        if not len(rows):
            return
        x = np.where(np.isfinite(rows), rows, self.mean).astype(np.float64)
        m, before = len(x), self.count
        mean = x.mean(axis=0)
        centred = x - mean
        delta = mean - self.mean
        self.count = before + m
        self.mean += delta * (m / self.count)
        self._scatter += centred.T @ centred + np.outer(delta, delta) * (before * m / self.count)

    def copy(self) -> IncrementalPCA:
        """An independent copy (the running fit at this point)."""
        other = IncrementalPCA(self.n, self.k)
        other.count = self.count
        other.mean = self.mean.copy()
        other._scatter = self._scatter.copy()
        other.components = None if self.components is None else self.components.copy()
        other.explained = self.explained.copy()
        return other

    def refit(self) -> bool:
        """Recompute the components from everything seen so far; False before 2 rows."""
        if self.count < max(2, self.k):
            return False
        cov = self._scatter / (self.count - 1)
        values, vectors = np.linalg.eigh(cov)
        order = np.argsort(values)[::-1][: self.k]
        new = vectors[:, order].T
        if self.components is not None:
            signs = np.sign(np.sum(new * self.components, axis=1))
            new *= np.where(signs == 0, 1.0, signs)[:, None]
        self.components = new
        total = float(np.trace(cov))
        self.explained = values[order] / total if total > 0 else np.zeros(self.k)
        return True

    def project(self, rows: np.ndarray) -> np.ndarray:
        """``(m, k)`` coordinates of ``(m, n)`` rows on the current components."""
        if self.components is None:
            return np.zeros((len(rows), self.k))
        x = np.where(np.isfinite(rows), rows, self.mean)
        return (x - self.mean) @ self.components.T
