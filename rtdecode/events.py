"""Event-level scoring: decoder detections or triggers against behavioural reversal onsets.

A closed loop is judged by events, not frames: how many reversal onsets got a detection (or a
trigger) near them, and how many detections came at no onset at all. One scorer serves
``rtdecode eval``, ``rtdecode report`` and ``rtdecode demo --trigger``, so these figures mean
the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ONSET_WINDOW_S", "EventScore", "onset_indices", "score_events"]

ONSET_WINDOW_S = (2.4, 1.2)
"""An event counts for a reversal onset from 2.4 s before it to 1.2 s after it."""


def onset_indices(flag: np.ndarray) -> np.ndarray:
    """Indices where a boolean series turns on (off -> on); a series already on at 0 has none there.

    Parameters
    ----------
    flag
        ``(T,)`` boolean series, e.g. the tracked reversal state per frame.

    Returns
    -------
    numpy.ndarray
        ``(K,)`` int64 indices of the first frame of each on-period that follows an off frame.
    """
    flag = np.asarray(flag, bool)
    return np.flatnonzero(flag[1:] & ~flag[:-1]).astype(np.int64) + 1


@dataclass(frozen=True, slots=True)
class EventScore:
    """How events line up with behavioural onsets.

    Attributes
    ----------
    onset_hit_rate
        Fraction of onsets with at least one event in their window (NaN without onsets).
    false_per_min
        Events in no onset's window, per minute of scored time.
    lag_s
        Median over caught onsets of (first event in the window - onset), seconds; negative
        means the event came before the behaviour (NaN when none was caught).
    onsets, events, caught, false
        Counts behind the rates.
    minutes
        Scored time.
    """

    onset_hit_rate: float
    false_per_min: float
    lag_s: float
    onsets: int
    events: int
    caught: int
    false: int
    minutes: float


def score_events(
    event_t: np.ndarray,
    onset_t: np.ndarray,
    duration_s: float,
    window_s: tuple[float, float] = ONSET_WINDOW_S,
) -> EventScore:
    """Score event times against onset times.

    Parameters
    ----------
    event_t
        Times of detections or triggers, seconds (any origin shared with ``onset_t``).
    onset_t
        Times of behavioural reversal onsets, seconds.
    duration_s
        Length of the scored period, seconds (for the per-minute rate).
    window_s
        ``(before, after)``: an event from ``before`` seconds ahead of an onset to ``after``
        seconds past it counts for that onset.

    Returns
    -------
    EventScore
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    events = np.sort(np.asarray(event_t, np.float64))
    onsets = np.sort(np.asarray(onset_t, np.float64))
    before, after = window_s
    matched = np.zeros(len(events), bool)
    lags = []
    for onset in onsets:
        lo = np.searchsorted(events, onset - before, side="left")
        hi = np.searchsorted(events, onset + after, side="right")
        if hi > lo:
            matched[lo:hi] = True
            lags.append(events[lo] - onset)
    minutes = duration_s / 60.0
    false = int((~matched).sum())
    return EventScore(
        onset_hit_rate=len(lags) / len(onsets) if len(onsets) else float("nan"),
        false_per_min=false / minutes,
        lag_s=float(np.median(lags)) if lags else float("nan"),
        onsets=len(onsets),
        events=len(events),
        caught=len(lags),
        false=false,
        minutes=minutes,
    )
