"""The armed trigger rule: fire on a threshold crossing only after the score sat below it.

A reversal onset shows up in a decoder's score as a rise from a low, forward-motion level. A
score that flickers around its threshold, or that is still high from the last reversal, gives
crossings that are not onsets. The armed rule fires on a crossing only when the score had been
below the threshold, without a gap, for at least ``arm_s`` seconds just before it, and never
within ``refractory_s`` of its last fire. It is pure: it sees ``(time, score, uncertain)`` per
frame and keeps a few numbers of state, so the same rule runs live, offline and vectorised over
many thresholds at once (:func:`armed_fires`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rtdecode.errors import ConfigError
from rtdecode.policy._decision import Decision

__all__ = ["ArmedConfig", "ArmedRule", "armed_fires", "replay_armed"]

_TIME_TOL = 1e-9
"""Seconds of slack on the arming and refractory times (frame times are sums of floats)."""


@dataclass(frozen=True)
class ArmedConfig:
    """When the armed rule fires.

    Parameters
    ----------
    threshold
        A frame whose score is at or above this crosses; below it, the frame counts toward
        arming. In the units of the score fed to the rule (a probability, a logit, a velocity).
    arm_s
        Least time the score must have been below ``threshold`` before a crossing may fire,
        measured from the first frame of the run of frames below it to the crossing frame.
        0: any crossing that follows a frame below the threshold.
    refractory_s
        Least time from one fire to the next.
    pulse_ms
        Length of the pulse a fire commands.
    """

    threshold: float
    arm_s: float = 1.2
    refractory_s: float = 5.0
    pulse_ms: float = 500.0

    def __post_init__(self) -> None:
        bad = [
            name
            for name, ok in (
                ("threshold", math.isfinite(self.threshold)),
                ("arm_s", self.arm_s >= 0),
                ("refractory_s", self.refractory_s >= 0),
                ("pulse_ms", self.pulse_ms > 0),
            )
            if not ok
        ]
        if bad:
            raise ConfigError(
                f"armed rule setting(s) out of range: {', '.join(f'{n}={getattr(self, n)}' for n in bad)}"
                " (threshold finite, arm_s >= 0, refractory_s >= 0, pulse_ms > 0)"
            )


class ArmedRule:
    """The armed rule as a state machine fed one frame at a time.

    Parameters
    ----------
    config
        The rule's settings.
    """

    def __init__(self, config: ArmedConfig) -> None:
        self.config = config
        self._below_since = math.nan  # first frame of the current run below the threshold
        self._last_fire = -math.inf

    def step(self, now_s: float, score: float, uncertain: bool = False) -> Decision | None:
        """Feed one frame.

        Parameters
        ----------
        now_s
            The frame's time in seconds.
        score
            The frame's score; NaN (no score yet) breaks the run below the threshold.
        uncertain
            The decoder abstained on this frame: a crossing here is suppressed (``abstain``)
            and, as every crossing, ends the run below the threshold.

        Returns
        -------
        Decision or None
            ``fire``, ``suppressed`` (reason ``abstain`` or ``refractory``), or ``None`` when
            the frame is no armed crossing.
        """
        config = self.config
        if math.isnan(score):
            self._below_since = math.nan
            return None
        if score < config.threshold:
            if math.isnan(self._below_since):
                self._below_since = now_s
            return None
        armed = now_s - self._below_since >= config.arm_s - _TIME_TOL  # False when NaN
        self._below_since = math.nan
        if not armed:
            return None
        if uncertain:
            return Decision("suppressed", "abstain", config.pulse_ms)
        if now_s - self._last_fire < config.refractory_s - _TIME_TOL:
            return Decision("suppressed", "refractory", config.pulse_ms)
        self._last_fire = now_s
        return Decision("fire", "", config.pulse_ms)


def replay_armed(
    t: np.ndarray, score: np.ndarray, config: ArmedConfig, uncertain: np.ndarray | None = None
) -> np.ndarray:
    """Times at which :class:`ArmedRule` fires over a recorded score trace, fed in order.

    Parameters
    ----------
    t, score
        ``(T,)`` frame times (s) and scores.
    config
        The rule.
    uncertain
        ``(T,)`` frames the decoder abstained on (default: none).

    Returns
    -------
    numpy.ndarray
        Fire times, ascending.
    """
    rule = ArmedRule(config)
    unsure = np.zeros(len(t), bool) if uncertain is None else np.asarray(uncertain, bool)
    fires = []
    for now, s, u in zip(np.asarray(t, float), np.asarray(score, float), unsure, strict=True):
        decision = rule.step(float(now), float(s), bool(u))
        if decision is not None and decision.kind == "fire":
            fires.append(float(now))
    return np.asarray(fires, np.float64)


def armed_fires(
    t: np.ndarray,
    score: np.ndarray,
    thresholds: np.ndarray,
    arm_s: float,
    refractory_s: float,
    uncertain: np.ndarray | None = None,
) -> np.ndarray:
    """The armed rule run at many thresholds at once (same fires as :func:`replay_armed`).

    Parameters
    ----------
    t, score
        ``(T,)`` frame times (s) and scores.
    thresholds
        ``(K,)`` thresholds.
    arm_s, refractory_s
        As in :class:`ArmedConfig`.
    uncertain
        ``(T,)`` frames the decoder abstained on (default: none).

    Returns
    -------
    numpy.ndarray
        ``(K, T)`` bool: whether the rule at each threshold fires at each frame.
    """
    t = np.asarray(t, np.float64)
    score = np.asarray(score, np.float64)
    thresholds = np.asarray(thresholds, np.float64)
    n = len(t)
    unsure = np.zeros(n, bool) if uncertain is None else np.asarray(uncertain, bool)
    missing = np.isnan(score)
    with np.errstate(invalid="ignore"):
        above = score[None, :] >= thresholds[:, None]
    below = ~above & ~missing[None, :]
    # index of the last frame at or before each frame that was not below (-1: none yet)
    idx = np.arange(n)
    last_not_below = np.maximum.accumulate(np.where(below, -1, idx[None, :]), axis=1)
    crossing = np.zeros_like(above)
    crossing[:, 1:] = above[:, 1:] & below[:, :-1]
    run_start = np.minimum(last_not_below[:, :-1] + 1, n - 1)  # first frame of the run before
    armed = np.zeros_like(above)
    armed[:, 1:] = crossing[:, 1:] & (t[None, 1:] - t[run_start] >= arm_s - _TIME_TOL)
    fires = armed & ~unsure[None, :]
    if refractory_s > 0:  # in time order, over the frames where some threshold fires
        last = np.full(len(thresholds), -np.inf)
        for i in np.flatnonzero(fires.any(axis=0)):
            ok = fires[:, i] & (t[i] - last >= refractory_s - _TIME_TOL)
            fires[:, i] = ok
            last[ok] = t[i]
    return fires
