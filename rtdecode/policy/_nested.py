"""Nested leave-one-animal-out choice of trigger settings.

Outer fold: one held-out animal. On the other animals, an inner leave-one-animal-out scores every
candidate setting (each inner animal scored with anything cross-animal taken from the remaining
ones); the setting with the best mean objective whose mean false-trigger rate keeps to the budget
is chosen, and only then is the held-out animal scored with it. The held-out animal reaches the
evaluation function only as the outer animal of its own fold, never in the choice: by
construction, every call made while choosing for it has it neither as the scored animal nor
among the training animals.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Evaluation", "NestedFold", "choose_setting", "nested_lowo"]


@dataclass(frozen=True)
class Evaluation:
    """One setting scored on one animal.

    Attributes
    ----------
    objective
        What the choice maximises (e.g. the catch of sustained onsets within +2.4 s).
    false_per_min
        False triggers per minute (the constraint).
    detail
        Anything else to report (thresholds, other catch figures).
    """

    objective: float
    false_per_min: float
    detail: dict[str, Any]


Evaluate = Callable[[Hashable, str, tuple[str, ...]], Evaluation]
"""``evaluate(setting, scored animal, training animals)``: the setting run on the scored animal,
with whatever it takes from other animals taken from the training animals only."""


@dataclass(frozen=True)
class NestedFold:
    """The outcome of one outer fold.

    Attributes
    ----------
    held_out
        The outer animal.
    setting
        The setting chosen on the other animals.
    inner_objective, inner_false_per_min
        Its mean figures over the inner folds.
    outer
        The held-out animal scored with it.
    """

    held_out: str
    setting: Hashable
    inner_objective: float
    inner_false_per_min: float
    outer: Evaluation


def choose_setting(
    settings: Sequence[Hashable], scores: np.ndarray, false: np.ndarray, budget: float
) -> int:
    """Index of the setting with the best mean objective among those whose mean false-trigger
    rate is at most ``budget`` (ties: fewer false triggers, then the earlier setting); when none
    keeps to the budget, the one with the fewest.

    Parameters
    ----------
    settings
        The candidates (only their count is used).
    scores, false
        ``(S, A)`` objective and false triggers per minute per setting and animal (NaN
        objectives, e.g. an animal without target onsets, are left out of the mean).
    budget
        False triggers per minute.
    """
    if scores.shape != (len(settings), scores.shape[1]) or false.shape != scores.shape:
        raise ValueError(
            f"scores {scores.shape} and false {false.shape} must be (settings, animals)"
        )
    f = false.mean(axis=1)
    h = _nanmean(scores)
    h = np.where(np.isnan(h), -np.inf, h)
    ok = np.flatnonzero(f <= budget + 1e-12)
    if not len(ok):
        return int(np.argmin(f))
    return int(ok[np.lexsort((ok, f[ok], -h[ok]))[0]])


def _nanmean(x: np.ndarray) -> np.ndarray:
    """Row means over the finite entries (NaN for a row without any), without warnings."""
    valid = np.isfinite(x)
    n = valid.sum(axis=1)
    total = np.where(valid, x, 0.0).sum(axis=1)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def nested_lowo(
    animals: Sequence[str], settings: Sequence[Hashable], evaluate: Evaluate, budget: float
) -> list[NestedFold]:
    """Choose a setting per held-out animal on the others (inner LOWO), then score it.

    Parameters
    ----------
    animals
        Animal ids (at least three: each inner fold needs a scored and a training animal).
    settings
        Candidate settings (hashable; passed to ``evaluate``).
    evaluate
        ``evaluate(setting, scored, training)`` (see :data:`Evaluate`).
    budget
        False triggers per minute the chosen setting must keep to on the inner folds.

    Returns
    -------
    list of NestedFold
        One per animal, in order.
    """
    animals = tuple(animals)
    if len(animals) < 3:
        raise ValueError(
            f"nested leave-one-animal-out needs at least 3 animals, got {len(animals)}"
        )
    if not settings:
        raise ValueError("no candidate settings")
    folds = []
    for held in animals:
        train = tuple(a for a in animals if a != held)
        scores = np.empty((len(settings), len(train)))
        false = np.empty_like(scores)
        for s, setting in enumerate(settings):
            for j, inner in enumerate(train):
                rest = tuple(a for a in train if a != inner)
                e = evaluate(setting, inner, rest)
                scores[s, j], false[s, j] = e.objective, e.false_per_min
        best = choose_setting(settings, scores, false, budget)
        folds.append(
            NestedFold(
                held_out=held,
                setting=settings[best],
                inner_objective=float(_nanmean(scores[best : best + 1])[0]),
                inner_false_per_min=float(false[best].mean()),
                outer=evaluate(settings[best], held, train),
            )
        )
    return folds
