"""The dose guard: the last check before any pulse is driven, whoever asked for it."""

from __future__ import annotations

from collections import deque

__all__ = ["DoseGuard"]


class DoseGuard:
    """Refractory period, rate cap and session dose caps for driven pulses.

    The policy applies the same limits to its own decisions; the guard applies them again to
    every pulse the controller drives, sham pulses included, so no path to the light can
    exceed them.

    Parameters
    ----------
    refractory_s
        Least time between two pulse starts.
    max_per_min
        Most pulses in any 60 s.
    max_pulses, max_light_s
        Session caps on pulses and on total light-on seconds (``None``: no cap).
    """

    def __init__(
        self,
        refractory_s: float,
        max_per_min: float,
        max_pulses: int | None,
        max_light_s: float | None,
    ) -> None:
        self.refractory_s = refractory_s
        self.max_per_min = max_per_min
        self.max_pulses = max_pulses
        self.max_light_s = max_light_s
        self._recent: deque[float] = deque()
        self.pulses = 0
        self.light_s = 0.0
        self._last = (0.0, 0.0)

    def refusal(self, now_s: float, pulse_ms: float) -> str:
        """Why a pulse of ``pulse_ms`` at ``now_s`` may not be driven (``""``: it may)."""
        recent = self._recent
        while recent and now_s - recent[0] >= 60.0:
            recent.popleft()
        if recent and now_s - recent[-1] < self.refractory_s:
            return "refractory"
        if len(recent) + 1 > self.max_per_min:
            return "rate_cap"
        if self.max_pulses is not None and self.pulses + 1 > self.max_pulses:
            return "dose_cap"
        if self.max_light_s is not None and self.light_s + pulse_ms / 1e3 > self.max_light_s + 1e-9:
            return "dose_cap"
        return ""

    def commit(self, now_s: float, pulse_ms: float) -> None:
        """Count a pulse that was driven."""
        self._recent.append(now_s)
        self.pulses += 1
        self.light_s += pulse_ms / 1e3
        self._last = (now_s, pulse_ms / 1e3)

    def cut_short(self, now_s: float) -> None:
        """The last pulse was turned off at ``now_s``: count only the light it gave."""
        start, length = self._last
        unused = length - (now_s - start)
        if unused > 0:
            self.light_s -= unused
            self._last = (start, now_s - start)
