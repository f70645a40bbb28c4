"""The velocity-only trigger: the baseline that shows what the neural decoder adds.

Freely moving rigs already track the animal's velocity. The simplest closed loop fires when the
tracked velocity along the body axis crosses below a threshold, causally (each frame's velocity
and the one before it) and with the trigger policy's refractory period. It is scored by the same
scorer as the neural decoder (:func:`rtdecode.events.score_fires`) on the same frames.

Its threshold is chosen without the test animal: leave one animal out, on the other animals'
whole recordings, from :data:`THRESHOLDS` (mm/s), as the one that catches the most sustained
onsets within +2.4 s on average while firing at most :data:`BUDGET_PER_MIN` false triggers per
minute on average (the fewest false triggers when none stays within it). The Flavell label
itself calls a frame reversal when velocity is below about -0.005 mm/s for >= 2 frames, so this
baseline is close to the label's own definition: it says what a tracker gives for free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.decisions import save_decisions
from rtdecode.events import score_fires
from rtdecode.policy import PolicyConfig
from rtdecode.training._dataset import Prepared
from rtdecode.training._evaluate import summarise

__all__ = [
    "BUDGET_PER_MIN",
    "THRESHOLDS",
    "choose_threshold",
    "velocity_baseline",
    "velocity_fires",
    "velocity_report",
]

THRESHOLDS = tuple(float(v) for v in np.round(-np.arange(0.002, 0.0305, 0.001), 4))
"""Velocity thresholds tried, mm/s (forward positive): -0.002 to -0.030."""
BUDGET_PER_MIN = 0.5
"""False triggers per minute (+2.4 s windows) the chosen threshold may cost on other animals."""


def velocity_fires(
    t: np.ndarray, velocity: np.ndarray, threshold: float, refractory_s: float
) -> np.ndarray:
    """Times a velocity-crossing trigger fires, frame by frame as it would live.

    It fires on a frame whose velocity is below ``threshold`` when the frame before was not
    (a missing, NaN, velocity neither crosses nor counts as above), and at least
    ``refractory_s`` after its previous fire.

    Parameters
    ----------
    t
        ``(T,)`` frame times, seconds.
    velocity
        ``(T,)`` tracked velocity, mm/s, forward positive.
    threshold
        Velocity below which the animal is taken to reverse, mm/s.
    refractory_s
        Least time from one fire to the next.

    Returns
    -------
    numpy.ndarray
        Fire times, seconds.
    """
    v = np.asarray(velocity, np.float64)
    below = v < threshold
    crossing = np.flatnonzero(below[1:] & (v[:-1] >= threshold)) + 1
    fires: list[float] = []
    for i in crossing:
        if not fires or t[i] - fires[-1] >= refractory_s:
            fires.append(float(t[i]))
    return np.array(fires, np.float64)


def _rates(train: list[Prepared], threshold: float, refractory_s: float) -> tuple[float, float]:
    """Mean catch of sustained onsets and mean false triggers per minute, both at +2.4 s."""
    scores = []
    for d in train:
        assert d.velocity is not None and d.reversal is not None
        fires = velocity_fires(d.times, d.velocity, threshold, refractory_s)
        scores.append(score_fires(fires, d.times, d.reversal))
    catch = [s.hit_rate("sustained", 2.4) for s in scores]
    return float(np.nanmean(catch)), float(np.mean([s.false_per_min(2.4) for s in scores]))


def choose_threshold(
    train: list[Prepared], refractory_s: float, budget: float = BUDGET_PER_MIN
) -> float:
    """The threshold of :data:`THRESHOLDS` the module notes describe, chosen on ``train``."""
    rates = np.array([_rates(train, thr, refractory_s) for thr in THRESHOLDS])
    within = np.flatnonzero(rates[:, 1] <= budget)
    if not len(within):
        return THRESHOLDS[int(np.argmin(rates[:, 1]))]
    best = within[np.lexsort((rates[within, 1], -rates[within, 0]))[0]]
    return THRESHOLDS[int(best)]


def velocity_baseline(
    data: list[Prepared],
    scored_from_s: dict[str, float],
    policy: PolicyConfig | None = None,
    save_dir: Path | None = None,
    suffix: str = "velocity",
) -> list[dict[str, Any]]:
    """The velocity trigger on each recording, its threshold chosen on the others.

    Parameters
    ----------
    data
        Recordings with behaviour and velocity (others are left out).
    scored_from_s
        Per recording id, where scoring starts (as for the decoder it is compared with);
        recordings not named are left out.
    policy
        Its ``refractory_s`` is the trigger's (default: :class:`PolicyConfig`'s).
    save_dir
        Also write ``<id>.<suffix>.npz`` decisions files here (``p``: 1 where the velocity is
        below the threshold; ``velocity`` and ``threshold`` beside).
    suffix
        The method name in those files.

    Returns
    -------
    list of dict
        Per recording: ``id``, ``frames`` (scored), ``threshold`` and
        :meth:`~rtdecode.events.EventScore.as_dict`.
    """
    refractory = (policy or PolicyConfig()).refractory_s
    usable = [d for d in data if d.velocity is not None and d.reversal is not None]
    entries = []
    for held in usable:
        if held.id not in scored_from_s:
            continue
        others = [d for d in usable if d is not held]
        if not others:
            break
        threshold = choose_threshold(others, refractory)
        assert held.velocity is not None and held.reversal is not None
        t, start = held.times, scored_from_s[held.id]
        seen = t >= start
        fires = velocity_fires(t[seen], held.velocity[seen], threshold, refractory)
        score = score_fires(fires, t, held.reversal, start)
        entry = {"id": held.id, "frames": int(seen.sum()), "threshold": threshold}
        entries.append(entry | score.as_dict())
        if save_dir is not None:
            p = np.where(seen, held.velocity < threshold, np.nan)
            save_decisions(
                Path(save_dir) / f"{held.id}.{suffix}.npz",
                t,
                p,
                np.zeros(len(t), bool),
                fires,
                held.reversal,
                start,
                velocity=held.velocity,
                threshold=threshold,
            )
    return entries


def velocity_report(
    data: list[Prepared],
    entries: list[dict[str, Any]],
    policy: PolicyConfig | None = None,
    save_dir: Path | None = None,
    suffix: str = "velocity",
) -> dict[str, Any] | None:
    """The velocity baseline beside a decoder's per-recording ``entries``, on the same frames.

    Returns
    -------
    dict or None
        A report as :func:`~rtdecode.training._evaluate.summarise` makes it (per-recording
        entries, means, pooled lags) plus ``thresholds_mm_s``, or ``None`` when fewer than two
        recordings carry velocity and behaviour (no threshold can be chosen on others).
    """
    starts = {e["id"]: e["scored_from_s"] for e in entries if e.get("scored_from_s") is not None}
    rows = velocity_baseline(data, starts, policy, save_dir, suffix)
    if not rows:
        return None
    how = "leave one animal out: chosen on the other recordings (training/_velocity.py)"
    return summarise(rows, method="velocity", threshold_choice=how)
