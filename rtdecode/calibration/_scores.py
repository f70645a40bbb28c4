"""Per-frame scores of a held-out animal from a fused decision chosen by nested leave-one-animal-out.

For the held-out animal of a LOWO fold, every choice (role pooling ``k``, each head's L2
strength, the fusion's) is made by inner leave-one-animal-out over the training animals, the
cross-animal heads are fit on the training animals, the animal's own heads on its calibration
period, and every frame after the calibration period is scored (:func:`fold_scores`).
Offline only (scikit-learn); the decoder it builds, :class:`AnimalDecoder`, is the live one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.calibration._decision import (
    COMPONENTS,
    AnimalDecoder,
    CrossModel,
    canonical_name,
    cross_features,
    identity_columns,
    lagged_logits,
)
from rtdecode.calibration._head import CalibrationConfig, Head, recording_head_features
from rtdecode.calibration._logreg import one_thread
from rtdecode.calibration._onset import clean_onsets, fit_linear, onset_target
from rtdecode.calibration._roles import RoleConfig, RolePooler, calibration_roles
from rtdecode.data import discover_recordings, load_recording
from rtdecode.preprocess import PreprocessConfig, preprocess_traces

__all__ = [
    "Animal",
    "FoldScores",
    "ScoreConfig",
    "fit_cross_model",
    "fold_decoder",
    "fold_scores",
    "load_animals",
]

_PREDICT_STATE = 0.5  # the per-animal state head's unused shipped-probability input
_MIN_ONSETS = CrossModel.min_onsets


@dataclass(frozen=True, eq=False)
class Animal:
    """One recording prepared for scoring: causal features, frame times, behaviour, labels."""

    id: str
    t: np.ndarray  # (T,) seconds from the first frame
    features: np.ndarray  # (T, n, F) preprocessed, as live
    valid: np.ndarray  # (T, n)
    reversal: np.ndarray  # (T,) bool
    velocity: np.ndarray | None
    labels: tuple[str | None, ...]
    frame_interval: float


def load_animals(folder: Path | str, preprocess: PreprocessConfig | None = None) -> list[Animal]:
    """Every recording with behaviour in ``folder`` (sorted by name), preprocessed causally."""
    animals = []
    for path in discover_recordings(folder):
        rec = load_recording(path)
        if rec.reversal is None:
            continue
        features, valid = preprocess_traces(rec.traces, rec.timestamps, preprocess)
        interval = rec.frame_interval if np.isfinite(rec.frame_interval) else 0.6
        animals.append(
            Animal(
                rec.id,
                rec.timestamps - rec.timestamps[0],
                features,
                valid,
                rec.reversal,
                rec.velocity,
                rec.labels,
                interval,
            )
        )
    return animals


@dataclass(frozen=True)
class ScoreConfig:
    """The protocol and the grids the nested choice searches.

    ``calibration_s``: frames with ``t < calibration_s`` (from ``skip_s`` on) calibrate the
    animal, frames from it on are scored. ``ks``: role pooling sizes; ``velocity``: also try
    pooling by a velocity role (when every animal has tracked velocity); ``cs``: inverse L2
    strengths of the cross-animal, per-animal onset and fusion heads; ``penalties``: L2
    strengths of the per-animal state head (:class:`CalibrationConfig`, both states weighted
    equally); ``fusion_lags``: how many earlier frames' component logits the fusion may see.
    """

    calibration_s: float = 180.0
    skip_s: float = 10.0
    ks: tuple[int, ...] = (5, 10, 20)
    velocity: bool = False
    cs: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)
    penalties: tuple[float, ...] = (30.0, 100.0, 300.0)
    fusion_lags: tuple[int, ...] = (0, 4)


@dataclass
class FoldScores:
    """A held-out animal's per-frame scores (NaN before ``scored_from_s``).

    Attributes
    ----------
    id
        Recording id.
    t
        ``(T,)`` frame times, seconds from the first frame.
    components
        Probability per frame of each of :data:`COMPONENTS`.
    fused
        ``(T,)`` the fused decision's probability.
    reversal
        ``(T,)`` the tracked reversal state.
    velocity
        ``(T,)`` tracked velocity (mm/s) or ``None``.
    scored_from_s
        Scoring starts here (the end of the calibration period).
    identities
        Whether the cross-animal features used the identified neurons.
    choices
        What the nested choice picked, and the fusion weights.
    """

    id: str
    t: np.ndarray
    components: dict[str, np.ndarray]
    fused: np.ndarray
    reversal: np.ndarray
    velocity: np.ndarray | None
    scored_from_s: float
    identities: bool
    choices: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path | str) -> None:
        """Write an npz: ``t``, ``p`` (fused), ``p_<component>``, ``reversal``, ``velocity``
        (NaN when untracked), ``scored_from_s``, ``identities``."""
        velocity = self.velocity if self.velocity is not None else np.full(len(self.t), np.nan)
        arrays: dict[str, Any] = {f"p_{name}": p for name, p in self.components.items()}
        arrays.update(
            t=self.t,
            p=self.fused,
            reversal=self.reversal.astype(np.uint8),
            velocity=velocity,
            scored_from_s=self.scored_from_s,
            identities=self.identities,
        )
        np.savez(path, **arrays)


def _auroc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if y.any() and not y.all() else float("nan")


class _Data:
    """Per-animal quantities shared by every fold (roles use the animal's own calibration)."""

    def __init__(self, animals: Sequence[Animal], config: ScoreConfig) -> None:
        self.animals = list(animals)
        self.config = config
        self.calib = [(a.t >= config.skip_s) & (a.t < config.calibration_s) for a in animals]
        self.post = [a.t >= config.calibration_s for a in animals]
        self.onset = [onset_target(a.reversal) for a in animals]
        self.zdz = [AnimalDecoder._channels(a.features, a.valid) for a in animals]

    @cache  # noqa: B019 - one _Data per fold_scores call, freed with it
    def pooled(self, i: int, roles: RoleConfig) -> np.ndarray:
        a, (z, dz), rows = self.animals[i], self.zdz[i], self.calib[i]
        velocity = None if a.velocity is None else a.velocity[rows]
        found = calibration_roles(z[rows], a.reversal[rows], velocity, roles)
        return RolePooler(found, a.frame_interval, roles).recording(z, dz)

    def cross(self, i: int, roles: RoleConfig, names: tuple[str, ...]) -> np.ndarray:
        z, dz = self.zdz[i]
        return cross_features(
            self.pooled(i, roles), z, dz, identity_columns(self.animals[i].labels, names)
        )

    def rows(self, i: int, onset: bool) -> tuple[np.ndarray, np.ndarray]:
        """Fit/score rows after calibration and their targets (state, or onset on its frames)."""
        if not onset:
            return self.post[i], self.animals[i].reversal
        target, care = self.onset[i]
        return self.post[i] & care, target

    @cache  # noqa: B019
    def state_head(self, i: int, penalty: float) -> Head:
        from rtdecode.calibration._head import fit_state_head

        a, rows = self.animals[i], self.calib[i]
        x = recording_head_features(a.features[rows], a.valid[rows], np.full(rows.sum(), 0.5))
        return fit_state_head(
            x, a.reversal[rows], CalibrationConfig(penalty=penalty, balanced=True)
        )

    @cache  # noqa: B019
    def head_x(self, i: int) -> np.ndarray:
        a = self.animals[i]
        return recording_head_features(a.features, a.valid, np.full(len(a.t), _PREDICT_STATE))

    @cache  # noqa: B019
    def onset_head(self, i: int, roles: RoleConfig, c: float) -> Head | None:
        rows = self.calib[i]
        y = self.animals[i].reversal[rows]
        target, care = onset_target(y)
        if len(clean_onsets(y)) < _MIN_ONSETS:
            return None
        return fit_linear(self.pooled(i, roles)[rows][care], target[care], c)


def _fit_cross(
    data: _Data,
    ids: Sequence[int],
    roles: RoleConfig,
    c: float,
    names: tuple[str, ...],
    onset: bool,
) -> Head:
    xs, ys = [], []
    for j in ids:
        rows, y = data.rows(j, onset)
        xs.append(data.cross(j, roles, names)[rows])
        ys.append(y[rows])
    return fit_linear(np.vstack(xs), np.concatenate(ys), c)


def _inner(ids: Sequence[int]) -> list[tuple[int, list[int]]]:
    return [(j, [m for m in ids if m != j]) for j in ids]


def _choose_cross(
    data: _Data,
    ids: Sequence[int],
    names: tuple[str, ...],
    onset: bool,
    options: Sequence[RoleConfig],
) -> tuple[RoleConfig, float]:
    """Role pooling and ``C`` of a cross-animal head with the best mean AUROC over inner
    held-out animals."""
    scores = {}
    for roles in options:
        for c in data.config.cs:
            values = []
            for j, rest in _inner(ids):
                head = _fit_cross(data, rest, roles, c, names, onset)
                rows, y = data.rows(j, onset)
                x = data.cross(j, roles, names)[rows]
                values.append(_auroc(y[rows], x @ head.weights))
            scores[(roles, c)] = np.nanmean(values)
    return max(scores, key=lambda key: scores[key])


def _choose_animal(data: _Data, ids: Sequence[int], roles: RoleConfig) -> tuple[float, float]:
    """The per-animal heads' strengths with the best mean AUROC after calibration."""
    state = {}
    for penalty in data.config.penalties:
        state[penalty] = np.nanmean(
            [
                _auroc(
                    data.animals[j].reversal[data.post[j]],
                    data.head_x(j)[data.post[j]] @ data.state_head(j, penalty).weights,
                )
                for j in ids
            ]
        )
    onset = {}
    for c in data.config.cs:
        values = []
        for j in ids:
            head = data.onset_head(j, roles, c)
            rows, y = data.rows(j, True)
            if head is not None:
                values.append(_auroc(y[rows], data.pooled(j, roles)[rows] @ head.weights))
        onset[c] = np.nanmean(values) if values else 0.0
    return max(state, key=lambda p: state[p]), max(onset, key=lambda c: onset[c])


def _names(data: _Data, ids: Sequence[int]) -> tuple[str, ...]:
    """Names identified in every one of the animals ``ids``, sorted."""
    sets = [{canonical_name(lab) for lab in data.animals[j].labels} - {None} for j in ids]
    return tuple(sorted(set.intersection(*sets)))  # type: ignore[arg-type]


def _cross_model(
    data: _Data, ids: Sequence[int], settings: dict[str, Any], fusion: Head, fusion_lags: int
) -> CrossModel:
    """The cross-animal part with its heads fit on ``ids``."""
    names, roles = settings["names"], settings["roles"]
    return CrossModel(
        roles=roles,
        names=names,
        state=_fit_cross(data, ids, roles, settings["c_state"], names, False),
        onset=_fit_cross(data, ids, roles, settings["c_onset"], names, True),
        fusion=fusion,
        head=CalibrationConfig(penalty=settings["penalty"], balanced=True),
        onset_c=settings["onset_c"],
        fusion_lags=fusion_lags,
        behavior=settings.get("behavior"),
    )


def _decoder(
    data: _Data,
    ids: Sequence[int],
    held: int,
    settings: dict[str, Any],
    fusion: Head,
    fusion_lags: int = 0,
) -> AnimalDecoder:
    """The fold's decoder for animal ``held``, cross heads fit on ``ids``, calibrated."""
    model = _cross_model(data, ids, settings, fusion, fusion_lags)
    names = settings["names"]
    a, rows = data.animals[held], data.calib[held]
    decoder = AnimalDecoder(model, a.labels if names else None)
    velocity = None if a.velocity is None else a.velocity[rows]
    decoder.calibrate(a.features[rows], a.valid[rows], a.reversal[rows], a.frame_interval, velocity)
    return decoder


_NOT_CHOICES = ("names", "roles", "behavior")  # settings that are objects, not choices
_UNIT = Head(np.ones(len(COMPONENTS)), 0.0)  # placeholder fusion while components are fit


def _component_logits(
    data: _Data, ids: Sequence[int], held: int, settings: dict[str, Any]
) -> np.ndarray:
    """``(T, 4)`` component logits of every frame of animal ``held``."""
    probs = _decoder(data, ids, held, settings, _UNIT).recording(
        data.animals[held].features, data.animals[held].valid
    )[:, : len(COMPONENTS)]
    p = np.clip(probs, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _fit_fusion(
    data: _Data, ids: Sequence[int], settings: dict[str, Any]
) -> tuple[Head, float, int, Head | None]:
    """The stacking head on the training animals' out-of-fold component logits; its C and
    the number of earlier frames it sees chosen by inner leave-one-animal-out over them; and
    the behaviour head (:func:`_fit_behavior`)."""
    full = {j: _component_logits(data, rest, j, settings) for j, rest in _inner(ids)}
    truth = {j: data.animals[j].reversal[data.post[j]] for j in ids}
    scores = {}
    for lags in data.config.fusion_lags:
        x = {j: lagged_logits(full[j], lags)[data.post[j]] for j in ids}
        for c in data.config.cs:
            values = []
            for j, rest in _inner(ids):
                rows, y = np.vstack([x[m] for m in rest]), np.concatenate([truth[m] for m in rest])
                values.append(_auroc(truth[j], x[j] @ fit_linear(rows, y, c).weights))
            scores[(lags, c)] = np.nanmean(values)
    lags, c = max(scores, key=lambda key: scores[key])
    x = {j: lagged_logits(full[j], lags)[data.post[j]] for j in ids}
    head = fit_linear(np.vstack([x[j] for j in ids]), np.concatenate([truth[j] for j in ids]), c)
    return head, c, lags, _fit_behavior(data, ids, x, truth, c)


def _fit_behavior(
    data: _Data,
    ids: Sequence[int],
    x: dict[int, np.ndarray],
    truth: dict[int, np.ndarray],
    c: float,
) -> Head | None:
    """``--fuse-behavior``'s head: the fusion's inputs and the tracked velocity, fit as the
    fusion (same ``C``) on the training animals' frames that have a velocity; ``None`` when a
    training animal has none."""
    velocity = [data.animals[j].velocity for j in ids]
    if any(v is None for v in velocity):
        return None
    rows, ys = [], []
    for j, v in zip(ids, velocity, strict=True):
        assert v is not None
        v = v[data.post[j]]
        has = np.isfinite(v)
        rows.append(np.column_stack([x[j][has], v[has]]))
        ys.append(truth[j][has])
    return fit_linear(np.vstack(rows), np.concatenate(ys), c)


def _choose(
    data: _Data, ids: Sequence[int], identities: bool, tracked: bool
) -> tuple[dict[str, Any], Head, float, int]:
    """Every setting chosen by leave-one-animal-out over ``ids``, and the fusion fit on them
    (``tracked``: velocity roles may be offered); ``settings["behavior"]`` is the behaviour
    head (or ``None``)."""
    config = data.config
    names = _names(data, ids) if identities else ()
    velocity = (False, True) if config.velocity and tracked else (False,)
    options = [RoleConfig(k=k, velocity=v) for k in config.ks for v in velocity]
    roles, c_state = _choose_cross(data, ids, names, False, options)
    _, c_onset = _choose_cross(data, ids, names, True, (roles,))
    penalty, onset_c = _choose_animal(data, ids, roles)
    settings = dict(
        names=names,
        roles=roles,
        c_state=c_state,
        c_onset=c_onset,
        penalty=penalty,
        onset_c=onset_c,
    )
    fusion, c_fusion, fusion_lags, settings["behavior"] = _fit_fusion(data, ids, settings)
    return settings, fusion, c_fusion, fusion_lags


def fit_cross_model(
    animals: Sequence[Animal], identities: bool = False, config: ScoreConfig | None = None
) -> tuple[CrossModel, dict[str, Any]]:
    """The fused decision's cross-animal part for a new animal, fit on every one of ``animals``.

    As :func:`fold_scores` fits it for a held-out animal, with all of ``animals`` as the
    training animals (every choice by leave-one-animal-out over them; one BLAS thread). Velocity
    roles are never offered: a live calibrator pools without velocity.

    Returns
    -------
    model, choices
        The :class:`CrossModel` (save it with ``save_cross_model``) and what was chosen.
    """
    with one_thread():
        data = _Data(animals, config or ScoreConfig())
        ids = list(range(len(animals)))
        settings, fusion, c_fusion, lags = _choose(data, ids, identities, False)
        model = _cross_model(data, ids, settings, fusion, lags)
    choices = {key: value for key, value in settings.items() if key not in _NOT_CHOICES}
    choices.update(k=settings["roles"].k, names=len(settings["names"]), c_fusion=c_fusion)
    choices.update(fusion_lags=lags, fusion_weights=fusion.weights.tolist())
    choices.update(animals=[a.id for a in animals], behavior_head=model.behavior is not None)
    return model, choices


def fold_scores(
    animals: Sequence[Animal],
    held_out: int,
    identities: bool = False,
    config: ScoreConfig | None = None,
) -> FoldScores:
    """Per-frame component and fused scores of ``animals[held_out]``, everything chosen and fit
    without it (nested leave-one-animal-out over the others).

    Parameters
    ----------
    animals
        Recordings with behaviour (:func:`load_animals`).
    held_out
        Index of the held-out animal.
    identities
        Let the cross-animal heads use the neurons identified in every training animal (the
        held-out animal's labels map them by name).
    config
        Protocol and grids.

    Returns
    -------
    FoldScores
    """
    return _fold_scores(animals, held_out, identities, config or ScoreConfig())


def fold_decoder(
    animals: Sequence[Animal],
    held_out: int,
    identities: bool = False,
    config: ScoreConfig | None = None,
) -> tuple[AnimalDecoder, dict[str, Any]]:
    """The held-out animal's decoder as :func:`fold_scores` builds it: every choice made and the
    cross-animal part fit without it, the animal's part calibrated on its calibration period.

    Returns
    -------
    decoder, choices
        The calibrated :class:`AnimalDecoder` (it scores the frames after the period) and what
        the nested choice picked.
    """
    config = config or ScoreConfig()
    with one_thread():
        data = _Data(animals, config)
        ids = [i for i in range(len(animals)) if i != held_out]
        tracked = all(animals[i].velocity is not None for i in (*ids, held_out))
        settings, fusion, c_fusion, fusion_lags = _choose(data, ids, identities, tracked)
        decoder = _decoder(data, ids, held_out, settings, fusion, fusion_lags)
    names, roles = settings["names"], settings["roles"]
    choices = {key: value for key, value in settings.items() if key not in _NOT_CHOICES}
    choices.update(
        k=roles.k,
        velocity_roles=roles.velocity,
        names=len(names),
        c_fusion=c_fusion,
        fusion_lags=fusion_lags,
        fusion_weights=fusion.weights.tolist(),
        animal_onset_head=decoder.onset_head is not None,
    )
    return decoder, choices


def _fold_scores(
    animals: Sequence[Animal], held_out: int, identities: bool, config: ScoreConfig
) -> FoldScores:
    decoder, choices = fold_decoder(animals, held_out, identities, config)
    a = animals[held_out]
    probs = decoder.recording(a.features, a.valid)
    probs[a.t < config.calibration_s] = np.nan
    return FoldScores(
        id=a.id,
        t=a.t,
        components={name: probs[:, i] for i, name in enumerate(COMPONENTS)},
        fused=probs[:, len(COMPONENTS)],
        reversal=a.reversal,
        velocity=a.velocity,
        scored_from_s=config.calibration_s,
        identities=identities,
        choices=choices,
    )
