"""The :class:`BehaviorTrack`: recent samples of the tracked animal, aligned to frames by time.

Policy (stated once, applied everywhere):

- A frame at time ``t`` gets the target of the latest behaviour sample taken at or before
  ``t`` and no older than ``max_age_s``: never a sample from the frame's future, never a stale
  one. The target is the sample's reversal flag when it has one, else ``velocity < 0``; a
  sample with neither (NaN: the tracker lost the animal) gives no target.
- Nothing is guessed: a frame with no such sample gets ``None`` and is counted (``missing``
  when there is no recent sample, ``untracked`` when the latest one carries no behaviour).
- Samples arrive on their own stream: a ``seq`` jump counts lost samples, a ``seq`` that does
  not increase is a producer restart (older samples are no longer used for alignment), a time
  that does not increase is dropped as ``out_of_order``; a sample that arrives after a frame
  at or after its time was already aligned is counted ``late`` (it is kept for later frames).
- Memory is a fixed ring of ``capacity`` samples; a sample overwritten before the session file
  took it is counted ``unrecorded``.

Samples may be added from a receiving thread while the decoding thread aligns frames: every
method takes one lock, held for microseconds.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from rtdecode.log import RateLimitedLog, get_logger

__all__ = ["BehaviorTrack"]

_log = RateLimitedLog(get_logger(__name__))


class BehaviorTrack:
    """A bounded ring of behaviour samples that answers "what did the animal do at time t?".

    Parameters
    ----------
    max_age_s
        Oldest a sample may be, relative to the frame, to give the frame its target.
    capacity
        Samples kept (it must cover ``max_age_s`` at the tracker's rate, and the samples
        that arrive between two of the pipeline's drains).
    uri
        Where the samples come from, for logs and the summary.

    Attributes
    ----------
    samples, lost, late, out_of_order, restarts, unrecorded
        Sample counters: accepted, lost in ``seq`` gaps, arrived after a frame at or after
        their time was aligned, dropped because their time did not increase, producer
        restarts, overwritten before the session file recorded them.
    frames_aligned, frames_missing, frames_untracked
        :meth:`target_at` outcomes: a target; no sample in ``[t - max_age_s, t]``; the latest
        such sample carries no behaviour.
    malformed
        Malformed behaviour messages, by reason (counted by whoever parses them).
    """

    def __init__(self, max_age_s: float = 1.0, capacity: int = 4096, uri: str = "") -> None:
        if not max_age_s > 0 or capacity < 1:
            raise ValueError(
                f"need max_age_s > 0 and capacity >= 1, got {max_age_s} and {capacity}"
            )
        self.max_age_s = float(max_age_s)
        self.uri = uri
        self._capacity = capacity
        self._seq = [0] * capacity
        self._t = [0.0] * capacity
        self._velocity = [0.0] * capacity
        self._reversal = [0.0] * capacity
        self._target = [-1] * capacity
        self._lock = threading.Lock()
        self._total = 0  # samples ever stored; sample i sits at i % capacity
        self._floor = 0  # first sample usable for alignment (since the last restart)
        self._drained = 0  # first sample not yet handed to drain()
        self._draining = False
        self._last_seq: int | None = None
        self._last_t = -math.inf
        self._last_query_t = -math.inf
        self.malformed: Counter[str] = Counter()
        self.samples = self.lost = self.late = self.out_of_order = 0
        self.restarts = self.unrecorded = 0
        self.frames_aligned = self.frames_missing = self.frames_untracked = 0

    def add(self, seq: int, t: float, velocity: float, reversal: float) -> None:
        """Store one sample (velocity in mm/s and reversal 0/1, either NaN when unknown)."""
        with self._lock:
            last = self._last_seq
            if last is not None and seq <= last:
                self.restarts += 1
                self._floor = self._total
                self._last_t = self._last_query_t = -math.inf  # perhaps a new clock
                _log.warning(
                    "behavior:restart",
                    f"{self.uri}: behaviour seq went from {last} to {seq}: producer restarted",
                )
            elif t <= self._last_t:
                self._last_seq = seq
                self.out_of_order += 1
                _log.warning(
                    "behavior:order",
                    f"{self.uri}: dropped a behaviour sample at t={t} (not after {self._last_t})",
                )
                return
            elif last is not None and seq > last + 1:
                self.lost += seq - last - 1
            self._last_seq = seq
            self._last_t = t
            if t <= self._last_query_t:
                self.late += 1
            cap = self._capacity
            if self._draining and self._total - self._drained >= cap:
                self.unrecorded += 1
                self._drained += 1
            i = self._total % cap
            self._seq[i] = seq
            self._t[i] = t
            self._velocity[i] = velocity
            self._reversal[i] = reversal
            if not math.isnan(reversal):
                self._target[i] = 1 if reversal >= 0.5 else 0
            elif not math.isnan(velocity):
                self._target[i] = 1 if velocity < 0.0 else 0
            else:
                self._target[i] = -1
            self._total += 1
            self.samples += 1

    def target_at(self, t: float, count: bool = True) -> int | None:
        """The reversal flag (1 or 0) of the frame at time ``t``, or ``None`` (counted).

        Uses the latest sample taken at or before ``t``, if it is no older than ``max_age_s``.
        With ``count`` False (frames that get no prediction: a filling window feeding
        self-calibration) nothing is counted, and no later sample is called ``late``.
        """
        with self._lock:
            if count:
                self._last_query_t = t  # the latest frame's time (frames may restart their clock)
            i = self._latest_at(t)
            if i < 0 or self._t[i] < t - self.max_age_s:
                self.frames_missing += count
                return None
            target = self._target[i]
            if target < 0:
                self.frames_untracked += count
                return None
            self.frames_aligned += count
            return target

    def velocity_at(self, t: float) -> float:
        """The tracked velocity (mm/s) of the latest sample taken at or before ``t`` and no
        older than ``max_age_s``; NaN when there is none (nothing is counted)."""
        with self._lock:
            i = self._latest_at(t)
            if i < 0 or self._t[i] < t - self.max_age_s:
                return math.nan
            return self._velocity[i]

    def _latest_at(self, t: float) -> int:
        """Ring index of the latest usable sample with time <= ``t``, or -1 (lock held)."""
        cap, times, hi = self._capacity, self._t, self._total
        lo = max(self._floor, hi - cap)
        if hi == lo:
            return -1
        if times[(hi - 1) % cap] <= t:
            return (hi - 1) % cap
        a, b = lo, hi - 1  # the first sample later than t is in [lo, hi - 1]
        while a < b:
            middle = (a + b) // 2
            if times[middle % cap] <= t:
                a = middle + 1
            else:
                b = middle
        return -1 if a == lo else (a - 1) % cap

    def drain(self, record: Callable[[int, float, float, float], None]) -> int:
        """Hand every sample stored since the last drain to ``record(seq, t, velocity, reversal)``.

        Returns
        -------
        int
            Samples handed over.
        """
        with self._lock:
            self._draining = True
            start, stop, cap = self._drained, self._total, self._capacity
            for j in range(start, stop):
                i = j % cap
                record(self._seq[i], self._t[i], self._velocity[i], self._reversal[i])
            self._drained = stop
            return stop - start

    def count_malformed(self, reason: str, detail: str, count: int = 1) -> None:
        """Count ``count`` malformed behaviour messages and log it (rate-limited)."""
        with self._lock:
            self.malformed[reason] += count
        _log.warning(
            f"behavior:malformed:{reason}",
            f"{self.uri}: dropped a malformed behaviour message ({reason}: {detail}); "
            "see 'Behaviour' in docs/wire-protocol.md",
        )

    def summary(self) -> dict[str, Any]:
        """Counters for the run's summary."""
        with self._lock:
            malformed = dict(self.malformed)
            return {
                "source": self.uri,
                "max_age_s": self.max_age_s,
                "samples": self.samples,
                "lost": self.lost,
                "late": self.late,
                "out_of_order": self.out_of_order,
                "restarts": self.restarts,
                "unrecorded": self.unrecorded,
                "malformed": malformed,
                "malformed_total": sum(malformed.values()),
                "frames_aligned": self.frames_aligned,
                "frames_missing": self.frames_missing,
                "frames_untracked": self.frames_untracked,
            }
