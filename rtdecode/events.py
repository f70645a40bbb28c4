"""Event-level scoring: trigger fires against behavioural reversal onsets, as the biology allows.

A closed loop is judged by events, not frames: how many reversal onsets got a fire near them,
and how many fires came while the animal moved forward with no onset near. One scorer,
:func:`score_fires`, serves ``rtdecode eval``, ``rtdecode report`` and ``rtdecode demo
--trigger``, so these figures mean the same thing everywhere. All definitions are in seconds,
from the 0/1 reversal label and the frame times (never frame counts), so they hold at any rig's
frame rate.

Definitions (docs/event-scoring.md says the same, with the reasons)
--------------------------------------------------------------------
Onset
    A frame whose label is reversal after a forward frame. Its *reversal* lasts from the onset
    frame's time to the time of the first forward frame after it (a reversal still running at
    the end of the recording lasts to one frame interval past the last frame). The *forward*
    time before it runs from the first forward frame after the previous reversal (or the
    recording's first frame, when none came before) to the onset.
Brief
    The reversal lasts at most :data:`BRIEF_MAX_S` (1.2 s: two frames at 0.6 s/frame). These
    barely move AVA.
Split
    The onset follows at most :data:`SPLIT_MAX_FORWARD_S` (1.2 s) of forward motion after an
    earlier reversal: one reversal cut in two by the label's velocity threshold.
Sustained
    The reversal lasts at least :data:`SUSTAINED_MIN_REVERSAL_S` (1.8 s) and follows at least
    :data:`SUSTAINED_MIN_FORWARD_S` (3 s) of forward motion.
Don't care
    Brief and split onsets. They are never targets, and a fire in their window is neither a hit
    nor a false trigger.
Onset sets
    ``all``: every onset that is not don't care. ``sustained``: the sustained onsets; in this
    set the other onsets of ``all`` are don't care too.
Window
    From :data:`BEFORE_S` (2.4 s) before an onset to ``L`` after it, both edges included;
    ``L`` is each of ``windows_s`` (reported: :data:`WINDOWS_S`, 1.2 s and 2.4 s).
Scored
    Only onsets at or after ``scored_from_s`` (the end of calibration) are targets, and only
    fires at or after it are scored; earlier fires are counted as ``before_scored`` and nothing
    else. An earlier onset's window is don't care.
Fire outcomes (per window length L, and for hits and don't care per set)
    *hit*: inside a target onset's window (the onset is *caught*; one fire may catch two
    onsets whose windows overlap, and a second fire in a caught window is a hit fire too).
    *don't care*: inside the window of a non-target onset only. *during reversal*: in no
    onset's window while the label says reversal (a fire late in a long reversal: neither hit
    nor false, counted apart). *false*: in no onset's window while the label says forward.
Rates
    Hit rate ("catch"): caught target onsets over target onsets. False triggers per minute:
    false fires over minutes of *scored time* (every scored frame's interval, forward or not),
    the rate a lab feels as stray pulses per minute of experiment; minutes of scored forward
    time are reported beside it. Lag: for each caught onset, its first fire in the window minus
    the onset, in seconds (negative: the fire came before the labelled onset).

Frame times jitter by about +/-0.06 s on the Flavell rigs; every duration comparison allows
:data:`TOLERANCE_S` (a quarter of a 0.6 s frame) so that a two-frame reversal is brief and a
three-frame one is not, whatever the jitter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "BEFORE_S",
    "BRIEF_MAX_S",
    "SETS",
    "SPLIT_MAX_FORWARD_S",
    "SUMMARY_KEYS",
    "SUSTAINED_MIN_FORWARD_S",
    "SUSTAINED_MIN_REVERSAL_S",
    "TOLERANCE_S",
    "WINDOWS_S",
    "EventScore",
    "Onsets",
    "describe",
    "find_onsets",
    "onset_indices",
    "pooled_lags",
    "score_fires",
    "window_key",
]

BEFORE_S = 2.4
"""A fire counts for an onset from this many seconds before it."""
WINDOWS_S = (1.2, 2.4)
"""The window lengths after an onset that every report gives (``L``)."""
BRIEF_MAX_S = 1.2
"""A reversal lasting at most this long is brief (don't care)."""
SPLIT_MAX_FORWARD_S = 1.2
"""An onset after at most this much forward motion since the previous reversal is split."""
SUSTAINED_MIN_REVERSAL_S = 1.8
"""A sustained onset's reversal lasts at least this long ..."""
SUSTAINED_MIN_FORWARD_S = 3.0
"""... and follows at least this much forward motion."""
TOLERANCE_S = 0.15
"""Slack on every duration comparison, for frame-time jitter."""
SETS = ("all", "sustained")
"""The onset sets scored."""


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


def window_key(L: float) -> str:
    """The suffix a window length carries in report keys: ``1.2`` -> ``"1.2s"``."""
    return f"{L:g}s"


SUMMARY_KEYS = (
    *(f"catch_{s}_{window_key(L)}" for L in WINDOWS_S for s in SETS),
    *(f"false_per_min_{window_key(L)}" for L in WINDOWS_S),
    *(f"lag_median_{s}_{window_key(L)}" for L in WINDOWS_S for s in SETS),
)
"""The :meth:`EventScore.as_dict` keys that reports average over animals."""


@dataclass(frozen=True)
class Onsets:
    """The reversal onsets of a labelled recording and what kind each is.

    Attributes
    ----------
    t
        ``(K,)`` onset times, seconds.
    reversal_s
        ``(K,)`` how long each reversal lasts, seconds.
    forward_s
        ``(K,)`` forward time before each onset, seconds.
    after_reversal
        ``(K,)`` whether a reversal came before this onset in the recording (else
        ``forward_s`` runs from the recording's start and cannot make the onset split).
    brief, split, sustained
        ``(K,)`` the kinds (see the module notes).
    """

    t: np.ndarray
    reversal_s: np.ndarray
    forward_s: np.ndarray
    after_reversal: np.ndarray
    brief: np.ndarray
    split: np.ndarray
    sustained: np.ndarray

    @property
    def dont_care(self) -> np.ndarray:
        """``(K,)`` brief or split: never targets, and fires on them are never false."""
        return self.brief | self.split

    def targets(self, onset_set: str) -> np.ndarray:
        """``(K,)`` the onsets that ``onset_set`` (one of :data:`SETS`) asks to catch."""
        if onset_set == "all":
            return ~self.dont_care
        if onset_set == "sustained":
            return self.sustained
        raise ValueError(f"onset set must be one of {SETS}, got {onset_set!r}")


def _frame_ends(t: np.ndarray) -> np.ndarray:
    """Each frame's end time: the next frame's time, and one median interval past the last."""
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    return np.r_[t[1:], t[-1] + step] if len(t) else t


def find_onsets(t: np.ndarray, reversal: np.ndarray) -> Onsets:
    """Onsets of a reversal label with their durations and kinds.

    Parameters
    ----------
    t
        ``(T,)`` strictly increasing frame times, seconds.
    reversal
        ``(T,)`` 0/1 (or boolean) reversal label per frame.

    Returns
    -------
    Onsets
    """
    t = np.asarray(t, np.float64)
    rev = np.asarray(reversal, bool)
    if t.shape != rev.shape or t.ndim != 1:
        raise ValueError(f"t {t.shape} and reversal {rev.shape} must be one series each")
    starts = onset_indices(rev)
    ends = onset_indices(~rev)  # first forward frame after each reversal period
    stop = _frame_ends(t)
    reversal_s = np.empty(len(starts))
    forward_s = np.empty(len(starts))
    after = np.zeros(len(starts), bool)
    for k, s in enumerate(starts):
        later = ends[ends > s]
        reversal_s[k] = (t[later[0]] if len(later) else stop[-1]) - t[s]
        earlier = ends[ends < s]
        after[k] = len(earlier) > 0 or bool(rev[0])
        forward_s[k] = t[s] - (t[earlier[-1]] if len(earlier) else t[0])
    tol = TOLERANCE_S
    return Onsets(
        t=t[starts],
        reversal_s=reversal_s,
        forward_s=forward_s,
        after_reversal=after,
        brief=reversal_s <= BRIEF_MAX_S + tol,
        split=after & (forward_s <= SPLIT_MAX_FORWARD_S + tol),
        sustained=(reversal_s >= SUSTAINED_MIN_REVERSAL_S - tol)
        & (forward_s >= SUSTAINED_MIN_FORWARD_S - tol),
    )


@dataclass(frozen=True)
class EventScore:
    """Fires scored against onsets, per onset set and window length.

    Attributes
    ----------
    windows_s
        The window lengths ``L`` scored.
    scored_from_s
        Where scoring started.
    minutes, forward_minutes
        Scored time, and the part of it the label says forward.
    onsets
        Target onsets per set (``{"all": n, "sustained": n}``), and every scored onset
        (``"every"``), brief (``"brief"``) and split (``"split"``) ones.
    fires, before_scored
        Fires scored, and fires before ``scored_from_s`` (not scored).
    caught
        ``{(set, L): onsets caught}``.
    lags_s
        ``{(set, L): lag of each caught onset, seconds, in onset order}``.
    hit_fires, dont_care_fires
        ``{(set, L): count}``.
    false, during_reversal
        ``{L: count}`` (independent of the set).
    """

    windows_s: tuple[float, ...]
    scored_from_s: float
    minutes: float
    forward_minutes: float
    onsets: dict[str, int]
    fires: int
    before_scored: int
    caught: dict[tuple[str, float], int] = field(default_factory=dict)
    lags_s: dict[tuple[str, float], tuple[float, ...]] = field(default_factory=dict)
    hit_fires: dict[tuple[str, float], int] = field(default_factory=dict)
    dont_care_fires: dict[tuple[str, float], int] = field(default_factory=dict)
    false: dict[float, int] = field(default_factory=dict)
    during_reversal: dict[float, int] = field(default_factory=dict)

    def hit_rate(self, onset_set: str, L: float) -> float:
        """Caught over target onsets (NaN without targets)."""
        n = self.onsets[onset_set]
        return self.caught[onset_set, L] / n if n else float("nan")

    def false_per_min(self, L: float) -> float:
        """False fires per minute of scored time (NaN when nothing was scored)."""
        return self.false[L] / self.minutes if self.minutes > 0 else float("nan")

    def lag_median_s(self, onset_set: str, L: float) -> float:
        """Median lag over caught onsets (NaN when none was caught)."""
        lags = self.lags_s[onset_set, L]
        return float(np.median(lags)) if lags else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """Flat keys for reports: ``catch_<set>_<L>s``, ``false_per_min_<L>s``,
        ``lag_median_<set>_<L>s``, ``lags_<set>_<L>s`` and the counts behind them."""
        out: dict[str, Any] = {
            "scored_from_s": self.scored_from_s,
            "scored_min": self.minutes,
            "forward_min": self.forward_minutes,
            "fires": self.fires,
            "fires_before_scored": self.before_scored,
        }
        out.update({f"onsets_{k}": v for k, v in self.onsets.items()})
        for L in self.windows_s:
            w = window_key(L)
            for s in SETS:
                out[f"catch_{s}_{w}"] = self.hit_rate(s, L)
                out[f"caught_{s}_{w}"] = self.caught[s, L]
                out[f"lag_median_{s}_{w}"] = self.lag_median_s(s, L)
                out[f"lags_{s}_{w}"] = list(self.lags_s[s, L])
                out[f"fires_hit_{s}_{w}"] = self.hit_fires[s, L]
                out[f"fires_dont_care_{s}_{w}"] = self.dont_care_fires[s, L]
            out[f"false_per_min_{w}"] = self.false_per_min(L)
            out[f"fires_false_{w}"] = self.false[L]
            out[f"fires_during_reversal_{w}"] = self.during_reversal[L]
        return out


def score_fires(
    fire_t: np.ndarray,
    t: np.ndarray,
    reversal: np.ndarray,
    scored_from_s: float | None = None,
    windows_s: tuple[float, ...] = WINDOWS_S,
) -> EventScore:
    """Score fire times against the onsets of a reversal label (definitions: module notes).

    Parameters
    ----------
    fire_t
        Times the trigger fired, seconds, on the clock of ``t``.
    t
        ``(T,)`` strictly increasing frame times of the label, seconds.
    reversal
        ``(T,)`` 0/1 reversal label per frame.
    scored_from_s
        Scoring starts here (the end of calibration); default: the first frame.
    windows_s
        Window lengths ``L`` after an onset to score.

    Returns
    -------
    EventScore
    """
    t = np.asarray(t, np.float64)
    rev = np.asarray(reversal, bool)
    if not len(t):
        raise ValueError("no frames to score: the label is empty")
    if len(t) > 1 and not np.all(np.diff(t) > 0):
        raise ValueError("frame times must increase strictly")
    start = float(t[0]) if scored_from_s is None else float(scored_from_s)
    fires = np.sort(np.asarray(fire_t, np.float64).ravel())
    if not np.all(np.isfinite(fires)):
        raise ValueError("fire times must be finite")
    onsets = find_onsets(t, rev)
    scored_onset = onsets.t >= start
    frame_s = _frame_ends(t) - t
    in_time = t >= start
    kept = fires[fires >= start]
    # the label at each fire: the frame at or before it (fires before the first frame: forward)
    frame = np.searchsorted(t, kept, side="right") - 1
    reversing = np.where(frame >= 0, rev[np.maximum(frame, 0)], False)
    counts = {
        "every": int(scored_onset.sum()),
        "brief": int((scored_onset & onsets.brief).sum()),
        "split": int((scored_onset & onsets.split).sum()),
    }
    counts.update({s: int((scored_onset & onsets.targets(s)).sum()) for s in SETS})
    score = EventScore(
        windows_s=tuple(windows_s),
        scored_from_s=start,
        minutes=float(frame_s[in_time].sum()) / 60.0,
        forward_minutes=float(frame_s[in_time & ~rev].sum()) / 60.0,
        onsets=counts,
        fires=len(kept),
        before_scored=len(fires) - len(kept),
    )
    for L in windows_s:
        _score_window(score, L, kept, reversing, onsets, scored_onset)
    return score


def _score_window(
    score: EventScore,
    L: float,
    fires: np.ndarray,
    reversing: np.ndarray,
    onsets: Onsets,
    scored_onset: np.ndarray,
) -> None:
    """Fill ``score``'s entries for window length ``L`` from the scored fires' outcomes."""
    # (fires, onsets): the fire lies inside the onset's window, edges included
    inside = (fires[:, None] >= onsets.t[None, :] - BEFORE_S) & (
        fires[:, None] <= onsets.t[None, :] + L
    )
    in_any = inside.any(axis=1)
    score.false[L] = int((~in_any & ~reversing).sum())
    score.during_reversal[L] = int((~in_any & reversing).sum())
    for s in SETS:
        target = scored_onset & onsets.targets(s)
        hits = inside[:, target]
        first = hits.argmax(axis=0) if len(fires) else np.zeros(hits.shape[1], np.int64)
        caught = hits.any(axis=0)  # fires are sorted: `first` is the earliest in each window
        hit_fire = hits.any(axis=1)
        score.caught[s, L] = int(caught.sum())
        score.lags_s[s, L] = tuple((fires[first[caught]] - onsets.t[target][caught]).tolist())
        score.hit_fires[s, L] = int(hit_fire.sum())
        score.dont_care_fires[s, L] = int((in_any & ~hit_fire).sum())


def pooled_lags(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """The lag distribution over many recordings' :meth:`EventScore.as_dict` rows.

    Returns
    -------
    dict
        Per ``<set>_<L>s``: ``n`` (caught onsets) and the 10th, 25th, 50th, 75th and 90th
        percentiles of their lags in seconds (``None`` without any).
    """
    out: dict[str, dict[str, float | int | None]] = {}
    for L in WINDOWS_S:
        for s in SETS:
            key = f"{s}_{window_key(L)}"
            lags = [lag for row in rows for lag in row.get(f"lags_{key}") or ()]
            qs = np.percentile(lags, (10, 25, 50, 75, 90)) if lags else [None] * 5
            out[key] = {"n": len(lags)} | {
                f"p{q}": None if v is None else float(v)
                for q, v in zip((10, 25, 50, 75, 90), qs, strict=True)
            }
    return out


def describe(row: dict[str, Any]) -> str:
    """One line for people from an :meth:`EventScore.as_dict` row scored at :data:`WINDOWS_S`."""
    short, long = (window_key(L) for L in WINDOWS_S)
    n_all, n_sus = row["onsets_all"], row["onsets_sustained"]

    def part(onset_set: str, window: str, n: int) -> str:
        caught = row[f"caught_{onset_set}_{window}"]
        return f"{caught}/{n}" + (f" ({caught / n:.0%})" if n else "")

    lag = row[f"lag_median_all_{long}"]
    return (
        f"onsets caught {part('all', long, n_all)} within +{long}, {part('all', short, n_all)} "
        f"within +{short}; sustained {part('sustained', long, n_sus)} within +{long}; "
        f"false triggers {row[f'false_per_min_{long}']:.2f}/min "
        f"({row[f'fires_false_{long}']} of {row['fires']} fires); median lag "
        + ("-" if lag != lag else f"{lag:+.2f} s")
        + f" ({row['onsets_brief']} brief and {row['onsets_split']} split onsets not counted)"
    )
