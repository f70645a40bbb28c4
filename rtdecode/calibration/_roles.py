"""Identity-free neuron roles: what each neuron does during calibration, and features pooled by role.

A new animal's neurons carry no names, so a cross-animal model cannot say "AVA". It can say
"the neurons that were most active while this animal reversed during calibration": each
neuron's role is the correlation of its running z-score with the tracked reversal state over
the calibration period, and the features are the mean activity of the ``k`` neurons with the
highest and the lowest role, a role-weighted mean, their time derivatives, and short-horizon
differences of them (onsets are changes). Roles use the calibration period only; the features
of a frame use that frame and a few before it only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtdecode.errors import ConfigError

__all__ = ["RoleConfig", "RolePooler", "neuron_roles"]

_N_BASE = 6  # top-k z, bottom-k z, top-k dz, bottom-k dz, role-weighted z, role-weighted dz
_DIFFED = (0, 1, 4)  # base features whose short-horizon differences are taken


@dataclass(frozen=True)
class RoleConfig:
    """How neurons are pooled by role.

    Parameters
    ----------
    k
        Neurons pooled at each end of the role ranking (fewer when the animal has fewer than
        ``2 k`` neurons).
    diffs_s
        Horizons of the differences ``pooled(t) - pooled(t - h)``, seconds (rounded to whole
        frames of the calibration period's median interval, at least one frame).
    """

    k: int = 10
    diffs_s: tuple[float, ...] = (0.6, 1.2, 1.8)

    def __post_init__(self) -> None:
        if self.k < 1 or not self.diffs_s or min(self.diffs_s) <= 0:
            raise ConfigError(
                f"role settings out of range: k={self.k} (>= 1), diffs_s={self.diffs_s} "
                "(at least one horizon, each > 0 s)"
            )

    @property
    def n_features(self) -> int:
        """Features per frame."""
        return _N_BASE + len(_DIFFED) * len(self.diffs_s)


def neuron_roles(z: np.ndarray, reversal: np.ndarray) -> np.ndarray:
    """Each neuron's role: Pearson correlation of its z-score with the reversal state.

    Parameters
    ----------
    z
        ``(T, N)`` running z-scores over the calibration frames (invalid values as 0).
    reversal
        ``(T,)`` tracked reversal state on those frames.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` correlations in [-1, 1]; 0 for a constant neuron or a constant state.
    """
    z = np.asarray(z, np.float64)
    r = np.asarray(reversal, np.float64)
    zc = z - z.mean(axis=0)
    rc = r - r.mean()
    denom = np.sqrt((zc * zc).sum(axis=0) * float(rc @ rc))
    return np.divide(rc @ zc, denom, out=np.zeros(z.shape[1]), where=denom > 1e-12)


class RolePooler:
    """Role-pooled features of one animal, frame by frame or for a whole recording.

    Parameters
    ----------
    roles
        ``(N,)`` :func:`neuron_roles` of the animal's calibration period.
    frame_interval_s
        Seconds per frame (turns ``config.diffs_s`` into frames).
    config
        Pooling settings.
    """

    def __init__(self, roles: np.ndarray, frame_interval_s: float, config: RoleConfig) -> None:
        roles = np.asarray(roles, np.float64)
        k = max(1, min(config.k, roles.shape[0] // 2))
        order = np.argsort(roles, kind="stable")
        self.config = config
        self.top = np.ascontiguousarray(order[-k:])
        self.bottom = np.ascontiguousarray(order[:k])
        total = float(np.abs(roles).sum())
        self.weights = roles / total if total > 0 else np.zeros_like(roles)
        self.lags = tuple(max(1, round(h / frame_interval_s)) for h in config.diffs_s)
        self._history = np.zeros((max(self.lags) + 1, _N_BASE))
        self._seen = 0

    @property
    def n_features(self) -> int:
        """Features per frame."""
        return self.config.n_features

    def _base(self, z: np.ndarray, dz: np.ndarray, out: np.ndarray) -> None:
        out[0] = z[self.top].mean()
        out[1] = z[self.bottom].mean()
        out[2] = dz[self.top].mean()
        out[3] = dz[self.bottom].mean()
        out[4] = self.weights @ z
        out[5] = self.weights @ dz

    def reset(self) -> None:
        """Forget the frames seen (a new stream of the same animal)."""
        self._seen = 0

    def step(self, z: np.ndarray, dz: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Features of the next frame, written into ``out`` (``(n_features,)``).

        Frames before the first one count as equal to it (the differences start at 0).
        """
        ring = self._history
        row = self._seen % len(ring)
        self._base(z, dz, ring[row])
        if self._seen == 0:
            ring[:] = ring[row]
        self._seen += 1
        out[:_N_BASE] = ring[row]
        col = _N_BASE
        for lag in self.lags:
            past = ring[(row - lag) % len(ring)]
            for i in _DIFFED:
                out[col] = ring[row, i] - past[i]
                col += 1
        return out

    def recording(self, z: np.ndarray, dz: np.ndarray) -> np.ndarray:
        """``(T, n_features)`` features of every frame of ``(T, N)`` z-scores and derivatives."""
        z = np.asarray(z, np.float64)
        dz = np.asarray(dz, np.float64)
        base = np.stack(
            (
                z[:, self.top].mean(axis=1),
                z[:, self.bottom].mean(axis=1),
                dz[:, self.top].mean(axis=1),
                dz[:, self.bottom].mean(axis=1),
                z @ self.weights,
                dz @ self.weights,
            ),
            axis=1,
        )
        parts = [base]
        for lag in self.lags:
            past = np.vstack([np.repeat(base[:1], min(lag, len(base)), axis=0), base[:-lag]])
            parts.append((base - past[: len(base)])[:, _DIFFED])
        return np.hstack(parts)
