"""Identity-free neuron roles: what each neuron does during calibration, and features pooled by role.

A new animal's neurons carry no names, so a cross-animal model cannot say "AVA". It can say
"the neurons that were most active while this animal reversed during calibration": each
neuron's role is the correlation of its running z-score with the tracked reversal state over
the calibration period (and, optionally, a second role: its correlation with backward velocity,
a continuous signal that ranks neurons from more frames than the few reversals of a
calibration period), and the features are, per role, the mean activity of the ``k`` neurons
with the highest and the lowest role and a role-weighted mean, their time derivatives, and
short-horizon differences of the activity means (onsets are changes). Roles use the calibration period only; the features
of a frame use that frame and a few before it only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtdecode.errors import ConfigError

__all__ = ["RoleConfig", "RolePooler", "calibration_roles", "neuron_roles"]

_PER_ROLE = 3  # per role: top-k mean, bottom-k mean, role-weighted mean


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
    velocity
        Add the velocity role (needs tracked velocity during calibration).
    """

    k: int = 10
    diffs_s: tuple[float, ...] = (0.6, 1.2, 1.8)
    velocity: bool = False

    def __post_init__(self) -> None:
        if self.k < 1 or not self.diffs_s or min(self.diffs_s) <= 0:
            raise ConfigError(
                f"role settings out of range: k={self.k} (>= 1), diffs_s={self.diffs_s} "
                "(at least one horizon, each > 0 s)"
            )

    @property
    def n_roles(self) -> int:
        """Role vectors pooled (reversal, and velocity when set)."""
        return 2 if self.velocity else 1

    @property
    def n_features(self) -> int:
        """Features per frame."""
        per_role = _PER_ROLE * (2 + len(self.diffs_s))
        return per_role * self.n_roles


def neuron_roles(z: np.ndarray, behaviour: np.ndarray) -> np.ndarray:
    """Each neuron's role: Pearson correlation of its z-score with a tracked behaviour.

    Parameters
    ----------
    z
        ``(T, N)`` running z-scores over the calibration frames (invalid values as 0).
    behaviour
        ``(T,)`` tracked reversal state (or backward velocity) on those frames.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` correlations in [-1, 1]; 0 for a constant neuron or a constant state.
    """
    z = np.asarray(z, np.float64)
    r = np.asarray(behaviour, np.float64)
    zc = z - z.mean(axis=0)
    rc = r - r.mean()
    denom = np.sqrt((zc * zc).sum(axis=0) * float(rc @ rc))
    return np.divide(rc @ zc, denom, out=np.zeros(z.shape[1]), where=denom > 1e-12)


def calibration_roles(
    z: np.ndarray, reversal: np.ndarray, velocity: np.ndarray | None, config: RoleConfig
) -> np.ndarray:
    """``(N, config.n_roles)`` roles of the calibration frames: reversal, then velocity.

    Parameters
    ----------
    z
        ``(T, N)`` running z-scores of the calibration frames (invalid values as 0).
    reversal
        ``(T,)`` tracked reversal state.
    velocity
        ``(T,)`` tracked velocity (mm/s, forward positive; NaN where untracked), needed when
        ``config.velocity``; the role is the correlation with backward velocity.
    config
        Pooling settings.
    """
    roles = [neuron_roles(z, reversal)]
    if config.velocity:
        v = None if velocity is None else np.asarray(velocity, np.float64)
        tracked = np.zeros(len(z), bool) if v is None else np.isfinite(v)
        if v is None or tracked.sum() < 2:
            raise ConfigError(
                "these role settings pool neurons by their relation to velocity: give the "
                "tracked velocity of the calibration period (or use velocity=False)"
            )
        roles.append(neuron_roles(np.asarray(z)[tracked], -v[tracked]))
    return np.column_stack(roles)


class RolePooler:
    """Role-pooled features of one animal, frame by frame or for a whole recording.

    Parameters
    ----------
    roles
        ``(N,)`` or ``(N, R)`` :func:`neuron_roles` of the animal's calibration period, one
        column per role (``config.n_roles`` of them).
    frame_interval_s
        Seconds per frame (turns ``config.diffs_s`` into frames).
    config
        Pooling settings.
    """

    def __init__(self, roles: np.ndarray, frame_interval_s: float, config: RoleConfig) -> None:
        roles = np.asarray(roles, np.float64).reshape(len(roles), -1)
        if roles.shape[1] != config.n_roles:
            raise ConfigError(
                f"{roles.shape[1]} role vector(s) given but the role settings pool "
                f"{config.n_roles}; give reversal roles, and velocity roles with velocity=True"
            )
        self.config = config
        k = max(1, min(config.k, roles.shape[0] // 2))
        # (N, 3 R) pooling matrix: per role, mean of the top k, of the bottom k, role-weighted
        self.pooling = np.zeros((roles.shape[0], _PER_ROLE * roles.shape[1]))
        for j, role in enumerate(roles.T):
            order = np.argsort(role, kind="stable")
            self.pooling[order[-k:], _PER_ROLE * j] = 1.0 / k
            self.pooling[order[:k], _PER_ROLE * j + 1] = 1.0 / k
            total = float(np.abs(role).sum())
            if total > 0:
                self.pooling[:, _PER_ROLE * j + 2] = role / total
        self._pooled = self.pooling.shape[1]
        self.lags = tuple(max(1, round(h / frame_interval_s)) for h in config.diffs_s)
        self._history = np.zeros((max(self.lags) + 1, 2 * self._pooled))
        self._seen = 0

    @property
    def n_features(self) -> int:
        """Features per frame."""
        return self.config.n_features

    def reset(self) -> None:
        """Forget the frames seen (a new stream of the same animal)."""
        self._seen = 0

    def step(self, z: np.ndarray, dz: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Features of the next frame, written into ``out`` (``(n_features,)``).

        Frames before the first one count as equal to it (the differences start at 0).
        """
        ring = self._history
        row = self._seen % len(ring)
        m = self._pooled
        np.dot(z, self.pooling, out=ring[row, :m])
        np.dot(dz, self.pooling, out=ring[row, m:])
        if self._seen == 0:
            ring[:] = ring[row]
        self._seen += 1
        out[: 2 * m] = ring[row]
        col = 2 * m
        for lag in self.lags:
            np.subtract(ring[row, :m], ring[(row - lag) % len(ring), :m], out=out[col : col + m])
            col += m
        return out

    def recording(self, z: np.ndarray, dz: np.ndarray) -> np.ndarray:
        """``(T, n_features)`` features of every frame of ``(T, N)`` z-scores and derivatives."""
        z = np.asarray(z, np.float64)
        dz = np.asarray(dz, np.float64)
        base = np.hstack([z @ self.pooling, dz @ self.pooling])
        parts = [base]
        for lag in self.lags:
            past = np.vstack([np.repeat(base[:1], min(lag, len(base)), axis=0), base[:-lag]])
            parts.append((base - past[: len(base)])[:, : self._pooled])
        return np.hstack(parts)
