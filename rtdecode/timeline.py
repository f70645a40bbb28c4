"""How a session's timeline is drawn: one vocabulary for ``rtdecode report`` and ``rtdecode view``.

The report (matplotlib, :mod:`rtdecode.trigger._report`) and the live view (Bokeh,
:mod:`rtdecode.view`) draw the same things: the probability of the trigger's target state with
the policy's abstain band and thresholds, the tracked reversals, the decision ribbon and the
trigger events. What each of them means and how it is marked is decided here, once, so that a
suppressed fire of one reason, a watchdog disarm or a run of uncertain frames looks the same in
both; each side only translates these values into its library's calls.

Decision codes
    0: the decoder decided a state other than the target (forward), 1: the target state
    (reversal), 2: it abstained (uncertain).
Marks
    One :class:`Mark` per event kind, and for ``suppressed`` one per reason (a reason this
    vocabulary does not know gets the fallback shape, with its own label); a ``disarm`` by a
    watchdog (frames stopped, latency, malformed input, output errors) has its own mark.
    Shapes are named as Bokeh names its markers; :data:`MATPLOTLIB_SHAPES` gives
    matplotlib's code for each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rtdecode.events import onset_indices

__all__ = [
    "DECISIONS",
    "DECISION_COLORS",
    "GUIDE_COLOR",
    "MATPLOTLIB_SHAPES",
    "PROBABILITY_RANGE",
    "REVERSAL_COLOR",
    "VELOCITY_COLOR",
    "WATCHDOG_REASONS",
    "Guides",
    "Mark",
    "decision_codes",
    "decision_runs",
    "event_mark",
    "guides",
    "reversal_intervals",
    "target_index",
]

DECISIONS = ("forward", "reversal", "uncertain")
"""Names of the decision codes 0, 1 and 2."""

DECISION_COLORS = ("#1f77b4", "#d62728", "#b0b0b0")
"""Ribbon colours of the decision codes: forward blue, reversal red, uncertain grey."""

GUIDE_COLOR = "#555555"
"""The colour of the policy's thresholds and of the abstain band (drawn at alpha 0.12)."""

VELOCITY_COLOR = "#555555"
"""The tracked velocity's line (on an axis of its own, drawn at alpha 0.7)."""

REVERSAL_COLOR = "#d62728"
"""The shade of the tracked reversals (drawn at alpha 0.15)."""

PROBABILITY_RANGE = (-0.08, 1.08)
"""The probability axis: room below 0 for arm/disarm marks and above 1 for pulses."""

WATCHDOG_REASONS = frozenset(
    {"no_frames", "latency", "malformed", "layout_reset", "output_error", "error"}
)
"""``disarm`` reasons of the controller's watchdogs (not the user's ``stop``)."""

MATPLOTLIB_SHAPES = {
    "triangle": "^",
    "inverted_triangle": "v",
    "diamond": "D",
    "square": "s",
    "circle": "o",
    "hex": "h",
    "star": "*",
    "x": "x",
    "cross": "+",
    "y": "1",
    "dash": "_",
    "plus": "P",
}
"""Each shape (Bokeh's marker name) as matplotlib's marker code."""


@dataclass(frozen=True)
class Mark:
    """How one kind of trigger event is drawn.

    Attributes
    ----------
    key
        What the mark stands for: the event kind, ``suppressed:REASON`` or ``disarm:watchdog``.
    label
        Its legend text.
    shape
        Bokeh's marker name (:data:`MATPLOTLIB_SHAPES` has matplotlib's).
    color
        Hex colour.
    y
        Height on the probability axis.
    """

    key: str
    label: str
    shape: str
    color: str
    y: float


_PULSE_Y, _SUPPRESSED_Y, _ARM_Y = 1.04, 1.0, -0.04
_KIND_MARKS = {
    "fire": Mark("fire", "fire", "inverted_triangle", "#d62728", _PULSE_Y),
    "sham": Mark("sham", "sham", "inverted_triangle", "#9467bd", _PULSE_Y),
    "off": Mark("off", "off (state rule)", "circle", "#8c564b", _SUPPRESSED_Y),
    "arm": Mark("arm", "arm", "triangle", "#2ca02c", _ARM_Y),
    "disarm": Mark("disarm", "disarm", "triangle", "#ff7f0e", _ARM_Y),
    "disarm:watchdog": Mark("disarm:watchdog", "disarm (watchdog)", "square", "#d62728", _ARM_Y),
}
_REASON_SHAPES = {  # the policy's reasons, then the controller's
    "stale": "y",
    "abstain": "x",
    "refractory": "cross",
    "rate_cap": "diamond",
    "dose_cap": "square",
    "disarmed": "dash",
    "dry_run": "hex",
    "sham": "star",
    "output_error": "plus",
}
_SUPPRESSED_COLOR = "#7f7f7f"
_OTHER_SHAPE = "circle"


def event_mark(kind: str, reason: str = "") -> Mark:
    """The mark of one trigger event.

    Parameters
    ----------
    kind
        The event's kind (:data:`rtdecode.policy.KINDS`).
    reason
        Its reason (for ``suppressed``, ``arm`` and ``disarm``).

    Returns
    -------
    Mark
        Its mark (a kind this vocabulary does not know gets the fallback shape, in grey).
    """
    if kind == "disarm" and reason in WATCHDOG_REASONS:
        return _KIND_MARKS["disarm:watchdog"]
    if kind in _KIND_MARKS:
        return _KIND_MARKS[kind]
    if kind != "suppressed":
        return Mark(kind, kind, _OTHER_SHAPE, _SUPPRESSED_COLOR, _SUPPRESSED_Y)
    shape = _REASON_SHAPES.get(reason, _OTHER_SHAPE)
    label = f"suppressed: {reason or 'no reason'}"
    return Mark(f"suppressed:{reason}", label, shape, _SUPPRESSED_COLOR, _SUPPRESSED_Y)


def target_index(states: Sequence[str], policy: Mapping[str, Any] | None = None) -> int:
    """The state whose probability the timeline draws: the policy's ``state`` when it names
    one of ``states``, else ``reversal``, else the last state."""
    target = (policy or {}).get("state")
    if isinstance(target, str) and target in states:
        return list(states).index(target)
    return list(states).index("reversal") if "reversal" in states else len(states) - 1


def decision_codes(state: ArrayLike, uncertain: ArrayLike, target: int) -> np.ndarray:
    """Per-frame decision codes (0 other, 1 target, 2 uncertain) from the decided state indices
    and the abstain flags."""
    state, uncertain = np.asarray(state), np.asarray(uncertain, bool)
    return np.where(uncertain, 2, (state == target).astype(np.int64))


def decision_runs(t: np.ndarray, decision: np.ndarray) -> dict[str, np.ndarray]:
    """The ribbon as runs of one decision (a few quads to draw instead of one per frame).

    Parameters
    ----------
    t, decision
        Frame times and decision codes, in time order; frames where either is NaN are left out.

    Returns
    -------
    dict
        ``left``, ``right`` and ``decision`` of each run of equal decisions: a run ends where
        the next begins, the last one at the last frame.
    """
    t, decision = np.asarray(t, np.float64), np.asarray(decision, np.float64)
    keep = np.isfinite(t) & np.isfinite(decision)
    t, decision = t[keep], decision[keep]
    if not len(t):
        return {"left": t, "right": t, "decision": decision}
    starts = np.r_[0, np.flatnonzero(decision[1:] != decision[:-1]) + 1]
    return {"left": t[starts], "right": np.r_[t[starts[1:]], t[-1]], "decision": decision[starts]}


def reversal_intervals(
    t: np.ndarray, reversal: np.ndarray, start: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The tracked reversals as ``(left, right)`` time intervals, none before ``start``.

    Parameters
    ----------
    t, reversal
        Behaviour sample times (in time order; samples without a time are left out) and the
        reversal flag (> 0.5: reversing; NaN, an unknown sample, counts as not reversing).
    start
        Where the timeline begins (its first prediction): an interval that began earlier is cut
        there, one that ended earlier is dropped.

    Returns
    -------
    tuple of numpy.ndarray
        Each reversal from its first reversing sample to the first sample after it that is not
        (a reversal still running at the end lasts to the last sample).
    """
    t, flag = np.asarray(t, np.float64), np.asarray(reversal, np.float64)
    known = np.isfinite(t)
    t, flag = t[known], np.nan_to_num(flag[known], nan=0.0) > 0.5
    if not len(t):
        return np.zeros(0), np.zeros(0)
    starts, ends = onset_indices(flag), onset_indices(~flag)
    if flag[0]:
        starts = np.r_[0, starts]
    later = np.searchsorted(ends, starts, side="right")
    stops = np.where(later < len(ends), ends[np.minimum(later, len(ends) - 1)], len(t) - 1)
    left, right = t[starts], t[stops]
    shown = right > start
    return np.maximum(left[shown], start), right[shown]


@dataclass(frozen=True)
class Guides:
    """The policy's guides on the probability axis.

    Attributes
    ----------
    band
        The abstain band ``(low, high)``, or ``None``.
    lines
        ``(value, label, dash)`` of each threshold: ``on`` ``"dashed"``, ``off`` ``"dotted"``
        (names both matplotlib and Bokeh take), drawn in :data:`GUIDE_COLOR`.
    """

    band: tuple[float, float] | None
    lines: tuple[tuple[float, str, str], ...]


def guides(policy: Mapping[str, Any] | None, abstain: Sequence[float] | None = None) -> Guides:
    """The abstain band and thresholds to draw, from a trigger policy (a session's, or a live
    stream's) and, when known apart from it, the decoder's abstain band."""
    policy = policy or {}
    band = abstain or policy.get("abstain")
    lines = tuple(
        (float(policy[key]), f"{key} {float(policy[key]):g}", dash)
        for key, dash in (("on", "dashed"), ("off", "dotted"))
        if policy.get(key) is not None
    )
    return Guides((float(band[0]), float(band[1])) if band else None, lines)
