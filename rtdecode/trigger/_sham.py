"""Sham controls: pulses at times unrelated to the brain, matched in rate or replayed."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from rtdecode.errors import ConfigError, DataFormatError
from rtdecode.stream import read_session

__all__ = ["PoissonSham", "Sham", "YokedSham", "open_sham"]


class Sham(ABC):
    """Decides, frame by frame, whether a sham pulse is due."""

    name: str

    @abstractmethod
    def due(self, now_s: float, frame_t: float) -> bool:
        """Whether to fire a sham pulse at this frame (``now_s``: policy clock; ``frame_t``:
        the frame's acquisition time)."""

    def policy_fired(self) -> None:  # noqa: B027 - only the rate-matched sham listens
        """The policy would have fired now (its fire is withheld in a sham session)."""


class PoissonSham(Sham):
    """Poisson pulses at the rate the policy would have had so far (its withheld fires over
    the time elapsed); none before the policy's first would-be fire."""

    name = "poisson"

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)
        self._start: float | None = None
        self._last = 0.0
        self._policy_fires = 0

    def policy_fired(self) -> None:
        self._policy_fires += 1

    def due(self, now_s: float, frame_t: float) -> bool:
        if self._start is None:
            self._start = self._last = now_s
            return False
        elapsed, dt = now_s - self._start, now_s - self._last
        self._last = now_s
        if elapsed <= 0 or dt <= 0 or not self._policy_fires:
            return False
        rate = self._policy_fires / elapsed
        return bool(self._rng.random() < -math.expm1(-rate * dt))


class YokedSham(Sham):
    """Replays the pulse times (fire and sham) of an earlier session, relative to its first
    frame, against this session's first frame."""

    name = "yoked"

    def __init__(self, offsets_s: np.ndarray, source: str) -> None:
        self.offsets_s = np.sort(np.asarray(offsets_s, np.float64))
        self.source = source
        self._next = 0
        self._t0: float | None = None

    @classmethod
    def from_session(cls, path: Path | str) -> YokedSham:
        """Read the pulse times of the session file at ``path``."""
        data = read_session(path, tables=("frames", "triggers"))
        if "kind" not in data.triggers:
            raise DataFormatError(
                f"{path} has no trigger table; yoke to a session recorded with --trigger"
            )
        kinds, t = data.triggers["kind"], data.triggers["t"]
        frame_t = data.frames.get("t", np.zeros(0))
        t0 = float(frame_t[0]) if len(frame_t) else 0.0
        pulses = np.isin(kinds, ("fire", "sham"))
        return cls(t[pulses] - t0, str(path))

    def due(self, now_s: float, frame_t: float) -> bool:
        if self._t0 is None:
            self._t0 = frame_t
        if self._next < len(self.offsets_s) and frame_t - self._t0 >= self.offsets_s[self._next]:
            # one pulse per frame at most; late ones are dropped, never bunched up
            while (
                self._next < len(self.offsets_s)
                and frame_t - self._t0 >= self.offsets_s[self._next]
            ):
                self._next += 1
            return True
        return False


def open_sham(spec: str | None, seed: int = 0) -> Sham | None:
    """The sham for ``--sham``: ``poisson``, ``yoked:SESSION.h5``, or None."""
    if not spec:
        return None
    if spec == "poisson":
        return PoissonSham(seed)
    if spec.startswith("yoked:") and len(spec) > len("yoked:"):
        return YokedSham.from_session(spec[len("yoked:") :])
    raise ConfigError(f"--sham '{spec}': use 'poisson' or 'yoked:SESSION.h5'")
