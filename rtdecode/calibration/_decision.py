"""One animal's fused decision: cross-animal heads on role-pooled features, per-animal heads, stacking.

A :class:`CrossModel` is what is learned on other animals: the role pooling, a state head and
an onset head on the cross-animal features (role-pooled features, plus the identified neurons'
activity when identities exist), the settings of the per-animal heads, and the fusion (a
logistic regression over the components' logits). An :class:`AnimalDecoder` holds one new
animal's part: it is fit once on the calibration period (roles, a per-animal state head on
every neuron, a per-animal onset head on the role-pooled features) and then scores one frame
at a time (:meth:`AnimalDecoder.step`) or a whole recording at once
(:meth:`AnimalDecoder.recording`, the same numbers). NumPy only; the fit imports scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rtdecode.calibration._head import (
    CalibrationConfig,
    Head,
    fit_state_head,
    head_features,
    recording_head_features,
)
from rtdecode.calibration._logreg import one_thread
from rtdecode.calibration._onset import clean_onsets, fit_linear, onset_target
from rtdecode.calibration._roles import RoleConfig, RolePooler, calibration_roles
from rtdecode.errors import ConfigError

__all__ = [
    "COMPONENTS",
    "DEFAULT_PART",
    "OUTPUTS",
    "AnimalDecoder",
    "CrossModel",
    "canonical_name",
    "cross_features",
    "identity_columns",
    "lagged_logits",
]

COMPONENTS = ("cross", "calibrated", "cross_onset", "animal_onset")
"""The fused decision's inputs, in the order of the fusion head's weights."""
OUTPUTS = (*COMPONENTS, "fused")
"""What :meth:`AnimalDecoder.step` returns, in order: each component, then the fused score.
Any one of them can decide live (``rtdecode run --fused-part``)."""
DEFAULT_PART = "calibrated"
"""The output that decides by default: the one nested leave-one-animal-out chose for the trigger
(``tools/trigger_study.py``; no identities, sustained onsets within +2.4 s at 0.5 false
triggers per minute)."""
_CLIP = 9.21  # logit of 1 - 1e-4


@dataclass(frozen=True)
class CrossModel:
    """What the fused decision learns on other animals.

    Parameters
    ----------
    roles
        Role pooling.
    names
        Identified neurons whose z-score and derivative join the cross-animal features, in
        order (empty: no identities).
    state, onset
        Heads on the cross-animal features: reversal state, and onset (:func:`onset_target`).
    fusion
        Head on the four components' logits (:data:`COMPONENTS` order) at the current frame,
        then at each of the ``fusion_lags`` frames before it (:func:`lagged_logits`).
    head
        Settings of the per-animal state head.
    onset_c
        Inverse L2 strength of the per-animal onset head.
    min_onsets
        Clean onsets the calibration period needs for a per-animal onset head; with fewer,
        the ``animal_onset`` component repeats ``cross_onset``.
    fusion_lags
        Earlier frames whose component logits the fusion also sees.
    behavior
        ``--fuse-behavior``'s head: the fusion's inputs, then the tracked velocity (mm/s,
        forward positive) at the current frame; ``None``: not fit (no tracked velocity).
    """

    roles: RoleConfig
    names: tuple[str, ...]
    state: Head
    onset: Head
    fusion: Head
    head: CalibrationConfig
    onset_c: float
    min_onsets: int = 3
    fusion_lags: int = 0
    behavior: Head | None = None


def canonical_name(label: str | None) -> str | None:
    """A label as :func:`rtdecode.models.canonical_label` spells it (stripped, upper case, no
    trailing ``?``), without importing :mod:`rtdecode.models` (which imports torch)."""
    name = (label or "").strip().rstrip("?").strip().upper()
    return name or None


def identity_columns(labels: Sequence[str | None] | None, names: Sequence[str]) -> np.ndarray:
    """``(len(names),)`` the trace column of each name in ``labels`` (first match), -1 if absent."""
    columns = np.full(len(names), -1, np.int64)
    if labels is None:
        return columns
    where: dict[str, int] = {}
    for i, label in enumerate(labels):
        name = canonical_name(label)
        if name is not None:
            where.setdefault(name, i)
    for j, name in enumerate(names):
        columns[j] = where.get(name, -1)
    return columns


def cross_features(
    pooled: np.ndarray, z: np.ndarray, dz: np.ndarray, columns: np.ndarray
) -> np.ndarray:
    """``(T, R + 2 V)`` cross-animal features: role-pooled, then the identified neurons' z and dz.

    Parameters
    ----------
    pooled
        ``(T, R)`` :meth:`RolePooler.recording` output.
    z, dz
        ``(T, N)`` z-scores and derivatives (invalid values as 0).
    columns
        ``(V,)`` :func:`identity_columns` (-1: the name is absent, its inputs are 0).
    """
    has = columns >= 0
    return np.hstack(
        [pooled, np.where(has, z[:, columns], 0.0), np.where(has, dz[:, columns], 0.0)]
    )


def lagged_logits(logits: np.ndarray, lags: int) -> np.ndarray:
    """``(T, C (1 + lags))``: each frame's ``(T, C)`` logits, then those of the ``lags`` frames
    before it (before the first frame: the first frame's)."""
    parts = [logits]
    for lag in range(1, lags + 1):
        head = np.repeat(logits[:1], min(lag, len(logits)), axis=0)
        parts.append(np.vstack([head, logits[:-lag]])[: len(logits)])
    return np.hstack(parts)


def _logit(head: Head, x: np.ndarray) -> np.ndarray | float:
    return np.clip(x @ head.weights + head.bias, -_CLIP, _CLIP)


def _scalar_logit(head: Head, x: np.ndarray) -> float:
    value = float(head.weights @ x) + head.bias
    return min(max(value, -_CLIP), _CLIP)


def _prob(logit: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * logit))


class AnimalDecoder:
    """One animal's components and fused score.

    Parameters
    ----------
    model
        The cross-animal part.
    labels
        The animal's neuron labels per trace column (``None`` or all ``None`` without
        identities); used only when ``model.names`` is not empty.
    fuse_behavior
        The fused score takes the tracked velocity too (``model.behavior``), on every frame
        that has one; a frame without falls back to the neural fusion.
    decides
        Which of :data:`OUTPUTS` decides live (:attr:`decides_at` is its index); with
        ``fuse_behavior`` always ``"fused"``.
    """

    def __init__(
        self,
        model: CrossModel,
        labels: Sequence[str | None] | None = None,
        fuse_behavior: bool = False,
        decides: str = "fused",
    ) -> None:
        if decides not in OUTPUTS:
            raise ConfigError(
                f"the fused decision's part must be one of {OUTPUTS}, not {decides!r}"
            )
        if fuse_behavior:
            decides = "fused"  # the behaviour head extends the fused stack
        if fuse_behavior and model.behavior is None:
            raise ConfigError(
                "this cross-animal model has no behaviour head (it was fit without tracked "
                "velocity); refit it with tools/fit_cross_model.py or drop --fuse-behavior"
            )
        self.model = model
        self.fuse_behavior = fuse_behavior
        self.decides = decides
        self.decides_at = OUTPUTS.index(decides)
        self.labels = labels
        self.columns = identity_columns(labels, model.names)
        self.pooler: RolePooler | None = None
        self.state_head: Head | None = None
        self.onset_head: Head | None = None
        n_cross = model.roles.n_features + 2 * len(model.names)
        n_fusion = len(COMPONENTS) * (1 + model.fusion_lags)
        if (
            model.state.weights.shape != (n_cross,)
            or model.onset.weights.shape != (n_cross,)
            or model.fusion.weights.shape != (n_fusion,)
            or (model.behavior is not None and model.behavior.weights.shape != (n_fusion + 1,))
        ):
            raise ConfigError(
                f"cross-animal heads have {model.state.weights.shape[0]} and fusion "
                f"{model.fusion.weights.shape[0]} inputs but role pooling, {len(model.names)} "
                f"names and {model.fusion_lags} fusion lags give {n_cross} and {n_fusion}; "
                "refit the model"
            )
        self._ring = np.zeros((model.fusion_lags + 1, len(COMPONENTS)))
        self._ring_seen = 0
        self._fusion_x = np.zeros(n_fusion + 1)  # the velocity last, for the behaviour head
        self._cross = np.zeros(n_cross)
        self._logits = np.zeros(len(COMPONENTS) + 1)
        self._head_x = np.zeros(0)
        self._z, self._dz = np.zeros(0), np.zeros(0)

    @property
    def calibrated(self) -> bool:
        """:meth:`calibrate` has run."""
        return self.pooler is not None

    def calibrate(
        self,
        features: np.ndarray,
        valid: np.ndarray,
        reversal: np.ndarray,
        frame_interval_s: float,
        velocity: np.ndarray | None = None,
    ) -> None:
        """Fit the animal's part on its calibration frames (oldest first, contiguous).

        The role pooler is primed with the last calibration frames, so the frame after them
        continues exactly as :meth:`recording` over the whole stream would.

        Parameters
        ----------
        features, valid
            ``(T, n, F)`` preprocessed features and ``(T, n)`` validity.
        reversal
            ``(T,)`` tracked reversal state with both states present.
        frame_interval_s
            Seconds per frame.
        velocity
            ``(T,)`` tracked velocity (mm/s, forward positive; NaN where untracked), needed
            when the model pools a velocity role.
        """
        y = np.asarray(reversal, bool)
        if y.all() or not y.any():
            raise ConfigError(
                "the calibration period has only one behaviour state; calibrate on a period "
                "with both forward motion and reversals"
            )
        z, dz = self._channels(features, valid)
        roles = calibration_roles(z, y, velocity, self.model.roles)
        with one_thread():
            self._calibrate(features, valid, y, z, dz, roles, frame_interval_s)

    def _calibrate(
        self,
        features: np.ndarray,
        valid: np.ndarray,
        y: np.ndarray,
        z: np.ndarray,
        dz: np.ndarray,
        roles: np.ndarray,
        frame_interval_s: float,
    ) -> None:
        self.pooler = RolePooler(roles, frame_interval_s, self.model.roles)
        x = recording_head_features(features, valid, np.full(len(y), 0.5))
        self.state_head = fit_state_head(x, y, self.model.head)
        self._head_x = np.zeros(x.shape[1])
        self._z, self._dz = np.zeros(z.shape[1]), np.zeros(z.shape[1])
        pooled = self.pooler.recording(z, dz)
        target, care = onset_target(y)
        self.onset_head = None
        if len(clean_onsets(y)) >= self.model.min_onsets and target[care].any():
            self.onset_head = fit_linear(pooled[care], target[care], self.model.onset_c)
        # Prime the pooler's history, then the fusion's: the next frame continues the stream.
        n, lags = len(y), self.model.fusion_lags
        start = max(0, n - lags - max(self.pooler.lags))
        first_step = max(start, n - lags)
        for i in range(start, first_step):
            self.pooler.step(z[i], dz[i], self._cross[: self.pooler.n_features])
        self._ring_seen = 0
        for i in range(first_step, n):
            self.step(features[i], valid[i])

    def crossfit(
        self,
        features: np.ndarray,
        valid: np.ndarray,
        reversal: np.ndarray,
        rows: np.ndarray,
        frame_interval_s: float,
        blocks: int,
        velocity: np.ndarray | None = None,
    ) -> np.ndarray:
        """Out-of-sample scores of a calibration period: what a live decoder knows at its end.

        The period (``rows``, frame indices into ``features``) is cut into ``blocks``
        consecutive blocks; each block is scored by a decoder like this one (same cross-animal
        part, labels, velocity fusion and deciding part) whose animal's part is calibrated on
        the other blocks, scoring every frame of ``features`` from the first (its history).
        A block whose other blocks hold one behaviour state is NaN.

        Parameters
        ----------
        features, valid
            ``(T, n, F)`` and ``(T, n)`` from the recording's first frame.
        reversal
            ``(T,)`` tracked reversal state.
        rows
            The period's frame indices, oldest first.
        frame_interval_s
            Seconds per frame.
        blocks
            Consecutive blocks of the period.
        velocity
            ``(T,)`` tracked velocity (NaN where none), or ``None``.

        Returns
        -------
        numpy.ndarray
            ``(len(rows), len(OUTPUTS))`` probabilities, as :meth:`recording`.
        """
        out = np.full((len(rows), len(OUTPUTS)), np.nan)
        for block in np.array_split(np.arange(len(rows)), blocks):
            rest = np.setdiff1d(rows, rows[block])
            y = np.asarray(reversal[rest], bool)
            if y.all() or not y.any():
                continue
            part = AnimalDecoder(self.model, self.labels, self.fuse_behavior, self.decides)
            v = None if velocity is None else velocity[rest]
            part.calibrate(features[rest], valid[rest], y, frame_interval_s, v)
            out[block] = part.recording(features, valid, velocity)[rows[block]]
        return out

    @staticmethod
    def _channels(features: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ok = np.asarray(valid, bool)
        z = np.where(ok, features[..., 0], 0.0).astype(np.float64)
        dz = np.where(ok, features[..., 1], 0.0).astype(np.float64)
        return z, dz

    def prime(self, frames: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        """Restart the role pooler and the fusion's history on the frames just before the next
        one (oldest first; each ``(n, F)`` features and ``(n,)`` validity; at least the longest
        difference horizon plus ``fusion_lags`` of them), so that :meth:`step` continues exactly
        as :meth:`recording` over the stream would (a live decoder that calibrated off the
        decoding thread while frames went on)."""
        pooler = self._require()
        pooler.reset()
        frames = list(frames)
        cut = max(0, len(frames) - self.model.fusion_lags)
        for frame, valid in frames[:cut]:
            z = np.where(valid, frame[:, 0], 0.0)
            dz = np.where(valid, frame[:, 1], 0.0)
            pooler.step(z, dz, self._cross[: pooler.n_features])
        self._ring_seen = 0
        for frame, valid in frames[cut:]:
            self.step(frame, valid)

    def _require(self) -> RolePooler:
        if self.pooler is None:
            raise ConfigError("the animal decoder scores only after calibrate()")
        return self.pooler

    def step(self, frame: np.ndarray, valid: np.ndarray, velocity: float = math.nan) -> np.ndarray:
        """Score the next frame: probabilities of :data:`COMPONENTS`, then the fused one.

        Parameters
        ----------
        frame
            ``(n, F)`` the frame's preprocessed features.
        valid
            ``(n,)`` validity.
        velocity
            The tracked velocity at the frame (mm/s; NaN: none), used with ``fuse_behavior``.

        Returns
        -------
        numpy.ndarray
            ``(5,)`` float64 (a buffer the decoder reuses: copy it to keep it).
        """
        pooler = self._require()
        assert self.state_head is not None
        z, dz = self._z, self._dz
        np.multiply(frame[:, 0], valid, out=z)
        np.multiply(frame[:, 1], valid, out=dz)
        r = pooler.n_features
        pooler.step(z, dz, self._cross[:r])
        names = len(self.columns)
        if names:
            has = self.columns >= 0
            self._cross[r : r + names] = np.where(has, z[self.columns], 0.0)
            self._cross[r + names :] = np.where(has, dz[self.columns], 0.0)
        head_features(frame, valid, 0.5, self._head_x)
        out = self._logits
        out[0] = _scalar_logit(self.model.state, self._cross)
        out[1] = _scalar_logit(self.state_head, self._head_x)
        out[2] = _scalar_logit(self.model.onset, self._cross)
        onset = self.onset_head
        out[3] = out[2] if onset is None else _scalar_logit(onset, self._cross[:r])
        ring, c = self._ring, len(COMPONENTS)
        row = self._ring_seen % len(ring)
        ring[row] = out[:c]
        if self._ring_seen == 0:
            ring[:] = ring[row]
        self._ring_seen += 1
        x = self._fusion_x
        for lag in range(len(ring)):
            x[c * lag : c * (lag + 1)] = ring[(row - lag) % len(ring)]
        behavior = self.model.behavior
        if self.fuse_behavior and behavior is not None and math.isfinite(velocity):
            x[-1] = velocity
            out[c] = _scalar_logit(behavior, x)
        else:
            out[c] = _scalar_logit(self.model.fusion, x[:-1])
        return _prob(out)

    def recording(
        self, features: np.ndarray, valid: np.ndarray, velocity: np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`step` for every frame of a recording at once (the pooler is not advanced).

        Parameters
        ----------
        features, valid
            ``(T, n, F)`` and ``(T, n)`` for the whole recording from its first frame.
        velocity
            ``(T,)`` tracked velocity (NaN where none), used with ``fuse_behavior``.

        Returns
        -------
        numpy.ndarray
            ``(T, 5)`` probabilities of :data:`COMPONENTS`, then the fused one.
        """
        pooler = self._require()
        assert self.state_head is not None
        z, dz = self._channels(features, valid)
        pooled = pooler.recording(z, dz)
        cross = cross_features(pooled, z, dz, self.columns)
        head_x = recording_head_features(features, valid, np.full(len(z), 0.5))
        logits = np.empty((len(z), len(COMPONENTS) + 1))
        logits[:, 0] = _logit(self.model.state, cross)
        logits[:, 1] = _logit(self.state_head, head_x)
        logits[:, 2] = _logit(self.model.onset, cross)
        onset = self.onset_head
        logits[:, 3] = logits[:, 2] if onset is None else _logit(onset, pooled)
        fusion_x = lagged_logits(logits[:, :4], self.model.fusion_lags)
        logits[:, 4] = _logit(self.model.fusion, fusion_x)
        behavior = self.model.behavior
        if self.fuse_behavior and behavior is not None and velocity is not None:
            has = np.isfinite(velocity)
            with_v = np.column_stack([fusion_x[has], velocity[has]])
            logits[has, 4] = _logit(behavior, with_v)
        return _prob(logits)
