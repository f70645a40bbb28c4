"""The animal's own trigger threshold, set at the end of calibration to a false-trigger budget.

``--false-per-min B``: the threshold is set so that the armed rule (:mod:`._armed`), replayed on
the calibration period's scores, would have fired at most ``B`` false triggers per minute there
(false as :mod:`rtdecode.events` scores them against the tracked behaviour). A calibration period
of a few minutes allows only one or two false triggers, so this threshold alone is noisy; it is
shrunk toward the cross-animal threshold (one chosen on other animals for the same budget) with a
weight that grows with the evidence the period holds:

    evidence  n = B * minutes + 1
        the number of false crossings that pin the own threshold down: at the budget the period
        allows ``B * minutes`` false fires, and the threshold sits at the next-highest false
        crossing, so ``n`` order statistics of the false crossings' peaks determine it (its
        relative spread falls as 1 / sqrt(n), as a Poisson count's does);
    weight    w = n / (n + n0)
        the usual precision weight of ``n`` observations against a prior worth ``n0`` (``n0``,
        the prior evidence, is chosen by nested leave-one-animal-out; 0 trusts the animal alone);
    threshold = max(own, w * own + (1 - w) * cross)
        shrinkage only ever raises the threshold: the budget is a cap, and a threshold below
        ``own`` would fire more false triggers on the calibration period than the budget allows.

Everything is computed from the calibration period alone (the cross-animal threshold comes with
the decoder), so a live decoder runs :func:`budget_threshold` once, when calibration ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rtdecode.events import WINDOWS_S
from rtdecode.policy._armed import armed_fires

__all__ = [
    "ThresholdChoice",
    "budget_threshold",
    "calibration_threshold",
    "own_threshold",
    "scored_minutes",
    "shrink_weight",
    "shrunk_threshold",
]

FalseCounter = Callable[[np.ndarray], np.ndarray]
"""``(K, T)`` boolean fire sets at the period's frames -> ``(K,)`` false triggers of each (the
scorer bound to one period's behaviour, e.g. :meth:`FrameTally.false_counts
<rtdecode.policy._tally.FrameTally.false_counts>`)."""


@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold chosen at the end of calibration, and why (logged; kept in the session file).

    Attributes
    ----------
    threshold
        The threshold the rule fires on.
    cross_threshold
        The cross-animal threshold for this budget (``nan`` when none was given).
    own_threshold
        The calibration-only threshold: the lowest at which the period had at most
        ``allowed_false`` false triggers (and at every higher one).
    weight
        Shrink weight on ``own_threshold`` (1: the animal alone).
    evidence
        ``n`` of the shrinkage rule (see the module docstring).
    prior_evidence
        ``n0`` of the shrinkage rule.
    budget_per_min
        ``B``.
    minutes
        Calibration time the scores cover.
    allowed_false
        False triggers the budget allows on the calibration period (``floor(B * minutes)``).
    false_at_threshold
        False triggers the rule fires at ``threshold`` on the calibration period.
    fires_at_threshold
        All fires of the rule at ``threshold`` on the calibration period.
    reason
        Why, in words.
    """

    threshold: float
    cross_threshold: float
    own_threshold: float
    weight: float
    evidence: float
    prior_evidence: float
    budget_per_min: float
    minutes: float
    allowed_false: int
    false_at_threshold: int
    fires_at_threshold: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (for the log and the session file)."""
        return asdict(self)


def scored_minutes(t: np.ndarray, score: np.ndarray) -> float:
    """Minutes from the first frame with a score to one median frame interval past the last
    frame (as the scorer counts scored time)."""
    t = np.asarray(t, np.float64)
    has = np.flatnonzero(np.isfinite(score))
    if not len(has) or len(t) < 2:
        return 0.0
    step = float(np.median(np.diff(t)))
    return (float(t[-1]) + step - float(t[has[0]])) / 60.0


def shrink_weight(budget_per_min: float, minutes: float, prior_evidence: float) -> float:
    """``w = n / (n + n0)`` with ``n = B * minutes + 1`` (module docstring); 1 when ``n0`` is 0."""
    n = budget_per_min * minutes + 1.0
    if math.isinf(prior_evidence):
        return 0.0
    return n / (n + prior_evidence)


def shrunk_threshold(own: float, cross: float, weight: float) -> float:
    """``max(own, weight * own + (1 - weight) * cross)``: shrinkage that only ever raises."""
    if math.isinf(own) or math.isnan(cross):
        return own
    return max(own, weight * own + (1.0 - weight) * cross)


def own_threshold(
    t: np.ndarray,
    score: np.ndarray,
    false_count: FalseCounter,
    allowed_false: int,
    arm_s: float,
    refractory_s: float,
    uncertain: np.ndarray | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Lowest threshold at which the rule fires at most ``allowed_false`` false triggers, and
    at every higher one, on this period.

    Every distinct finite score is a candidate (a threshold between two of them fires as the
    higher one does), so whatever threshold at or above the result is used, the period's false
    triggers stay within ``allowed_false``.

    Returns
    -------
    threshold, candidates, false
        The threshold (just above the highest score when even the highest candidate fires too
        often, so nothing fires), the candidates and the false triggers at each.
    """
    finite = np.unique(score[np.isfinite(score)])
    if not len(finite):
        return math.inf, finite, np.zeros(0, np.int64)
    fires = armed_fires(t, score, finite, arm_s, refractory_s, uncertain)
    false = np.asarray(false_count(fires), np.int64)
    bad = np.flatnonzero(false > allowed_false)
    if not len(bad):
        return float(finite[0]), finite, false
    if bad[-1] == len(finite) - 1:
        return float(np.nextafter(finite[-1], math.inf)), finite, false
    return float(finite[bad[-1] + 1]), finite, false


def budget_threshold(
    t: np.ndarray,
    score: np.ndarray,
    false_count: FalseCounter,
    budget_per_min: float,
    cross_threshold: float | None,
    prior_evidence: float,
    arm_s: float,
    refractory_s: float,
    uncertain: np.ndarray | None = None,
) -> ThresholdChoice:
    """Set the animal's threshold from its calibration period (see the module docstring).

    Parameters
    ----------
    t, score
        ``(T,)`` the calibration period's frame times (s) and the scores the rule will fire on
        (scored out of sample: a head's cross-fitted scores, not those of the frames it was fit
        on); NaN where there was no score.
    false_count
        ``(K, T)`` fire sets on this period's frames -> ``(K,)`` false triggers of each (the
        scorer with the period's tracked behaviour; :class:`~rtdecode.policy._tally.FrameTally`).
    budget_per_min
        ``B``, false triggers per minute.
    cross_threshold
        The cross-animal threshold for this budget, or ``None`` (the animal alone).
    prior_evidence
        ``n0``: 0 trusts the animal alone, ``inf`` takes ``max(own, cross)``.
    arm_s, refractory_s
        The armed rule's other settings.
    uncertain
        ``(T,)`` frames the decoder abstained on.

    Returns
    -------
    ThresholdChoice
    """
    if not budget_per_min > 0:
        raise ValueError(f"the false-trigger budget must be > 0 per minute, got {budget_per_min}")
    if prior_evidence < 0:
        raise ValueError(f"the prior evidence n0 must be >= 0, got {prior_evidence}")
    t = np.asarray(t, np.float64)
    score = np.asarray(score, np.float64)
    minutes = scored_minutes(t, score)
    allowed = math.floor(budget_per_min * minutes + 1e-9)
    own, _, _ = own_threshold(t, score, false_count, allowed, arm_s, refractory_s, uncertain)
    cross = math.nan if cross_threshold is None else float(cross_threshold)
    if math.isnan(cross):
        weight, threshold = 1.0, own
        reason = "no cross-animal threshold: the animal's own"
    elif math.isinf(own):
        weight, threshold = 1.0, own
        reason = "no score on the calibration period: nothing may fire"
    else:
        weight = shrink_weight(budget_per_min, minutes, prior_evidence)
        shrunk = weight * own + (1.0 - weight) * cross
        threshold = shrunk_threshold(own, cross, weight)
        reason = (
            f"own {own:.4g} from {minutes:.2f} min (at most {allowed} false), shrunk toward "
            f"cross-animal {cross:.4g} with weight {weight:.2f}"
            + ("" if shrunk >= own else "; kept own (shrinking would exceed the budget)")
        )
    fires = armed_fires(t, score, np.array([threshold]), arm_s, refractory_s, uncertain)[0]
    return ThresholdChoice(
        threshold=float(threshold),
        cross_threshold=cross,
        own_threshold=float(own),
        weight=float(weight),
        evidence=budget_per_min * minutes + 1.0,
        prior_evidence=float(prior_evidence),
        budget_per_min=float(budget_per_min),
        minutes=minutes,
        allowed_false=allowed,
        false_at_threshold=int(false_count(fires[None, :])[0]),
        fires_at_threshold=int(fires.sum()),
        reason=reason,
    )


def calibration_threshold(
    t: np.ndarray,
    score: np.ndarray,
    reversal: np.ndarray,
    budget_per_min: float,
    cross_threshold: float | None,
    prior_evidence: float,
    arm_s: float,
    refractory_s: float,
    window_s: float = WINDOWS_S[0],
    uncertain: np.ndarray | None = None,
) -> ThresholdChoice:
    """:func:`budget_threshold` as a live decoder calls it when calibration ends.

    Parameters
    ----------
    t, score
        The calibration period's frame times (s) and out-of-sample scores (NaN: none yet).
    reversal
        ``(T,)`` the tracked 0/1 reversal label on the same frames (the tracker's stream).
    budget_per_min, cross_threshold, prior_evidence, arm_s, refractory_s, uncertain
        As in :func:`budget_threshold`.
    window_s
        The scorer's window after an onset (``L``) that decides what is false.

    Returns
    -------
    ThresholdChoice
    """
    from rtdecode.policy._tally import FrameTally

    t = np.asarray(t, np.float64)
    has = np.flatnonzero(np.isfinite(np.asarray(score, np.float64)))
    start = float(t[has[0]]) if len(has) else float(t[0])
    tally = FrameTally.from_scorer(t, reversal, start, (window_s,))
    return budget_threshold(
        t,
        score,
        lambda fires: tally.false_counts(fires, window_s),
        budget_per_min,
        cross_threshold,
        prior_evidence,
        arm_s,
        refractory_s,
        uncertain,
    )
