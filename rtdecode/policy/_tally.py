"""Event scores of many candidate fire sets at once, built from the one scorer.

Choosing a threshold or a trigger setting scores thousands of fire sets on the same recording.
:func:`rtdecode.events.score_fires` classifies each fire on its own (hit for which onsets, false,
don't care) and an onset is caught when any fire catches it, so a recording's scores decompose
over its frames: :class:`FrameTally` asks the scorer once per frame what a single fire there
would be, and then scores any set of fires at frame times with two matrix products. It gives
exactly what :func:`~rtdecode.events.score_fires` gives for the same fires (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtdecode.events import SETS, WINDOWS_S, find_onsets, score_fires

__all__ = ["FrameTally"]

_MATCH_S = 1e-6
"""Tolerance when matching an onset time recovered from a lag to the onset list."""


@dataclass(frozen=True)
class FrameTally:
    """Per frame of one recording: what a fire there counts as.

    Attributes
    ----------
    t
        ``(T,)`` frame times, seconds.
    windows_s
        Window lengths ``L``.
    minutes
        Scored minutes (as the scorer counts them).
    targets
        ``{set: target onsets}``.
    false
        ``{L: (T,) bool}`` a fire at this frame is false.
    catches
        ``{(set, L): (T, K) bool}`` a fire at this frame catches target onset ``k``.
    """

    t: np.ndarray
    windows_s: tuple[float, ...]
    minutes: float
    targets: dict[str, int]
    false: dict[float, np.ndarray]
    catches: dict[tuple[str, float], np.ndarray]

    @classmethod
    def from_scorer(
        cls,
        t: np.ndarray,
        reversal: np.ndarray,
        scored_from_s: float | None = None,
        windows_s: tuple[float, ...] = WINDOWS_S,
    ) -> FrameTally:
        """Ask :func:`~rtdecode.events.score_fires` about a single fire at every frame."""
        t = np.asarray(t, np.float64)
        onsets = find_onsets(t, reversal)
        base = score_fires(np.zeros(0), t, reversal, scored_from_s, windows_s)
        start = base.scored_from_s
        target_t = {s: onsets.t[(onsets.t >= start) & onsets.targets(s)] for s in SETS}
        false = {L: np.zeros(len(t), bool) for L in windows_s}
        catches = {
            (s, L): np.zeros((len(t), len(target_t[s])), bool) for s in SETS for L in windows_s
        }
        for i in np.flatnonzero(t >= start):
            one = score_fires(t[i : i + 1], t, reversal, scored_from_s, windows_s)
            for L in windows_s:
                false[L][i] = one.false[L] > 0
                for s in SETS:
                    for lag in one.lags_s[s, L]:
                        k = np.flatnonzero(np.abs(target_t[s] - (t[i] - lag)) < _MATCH_S)
                        catches[s, L][i, k] = True
        return cls(
            t=t,
            windows_s=tuple(windows_s),
            minutes=base.minutes,
            targets={s: len(target_t[s]) for s in SETS},
            false=false,
            catches=catches,
        )

    def false_counts(self, fires: np.ndarray, L: float) -> np.ndarray:
        """``(M,)`` false triggers of each of ``(M, T)`` boolean fire sets."""
        counts = np.asarray(fires, np.float64) @ self.false[L].astype(np.float64)
        return np.rint(counts).astype(np.int64)

    def caught(self, fires: np.ndarray, onset_set: str, L: float) -> np.ndarray:
        """``(M,)`` target onsets caught by each of ``(M, T)`` boolean fire sets."""
        hit = np.asarray(fires, np.float64) @ self.catches[onset_set, L].astype(np.float64)
        return (hit > 0.5).sum(axis=1)

    def hit_rate(self, fires: np.ndarray, onset_set: str, L: float) -> np.ndarray:
        """``(M,)`` catch (NaN without target onsets)."""
        n = self.targets[onset_set]
        if not n:
            return np.full(len(fires), np.nan)
        return self.caught(fires, onset_set, L) / n

    def false_per_min(self, fires: np.ndarray, L: float) -> np.ndarray:
        """``(M,)`` false triggers per scored minute."""
        return self.false_counts(fires, L) / self.minutes
