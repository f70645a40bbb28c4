"""What the live loop offers the browser view: the tap's interface (the view implements it)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

__all__ = ["ViewTapLike"]


class ViewTapLike(Protocol):
    """What the live loop offers the browser view (:class:`rtdecode.view.ViewTap`); every
    call returns at once (a bounded drop-oldest channel)."""

    def offer_frame(
        self,
        seq: int,
        t: float,
        probs: np.ndarray,
        uncertain: bool,
        head: int,
        skipped: int,
        latency_us: float,
        target: int | None,
        features: np.ndarray,
        valid: np.ndarray,
    ) -> None:
        """One published frame: its prediction, latency, aligned target and preprocessed row."""

    def offer_behavior(self, seq: int, t: float, velocity: float, reversal: float) -> None:
        """One tracked behaviour sample."""

    def layout(self, labels: tuple[str | None, ...] | None) -> None:
        """A new neuron layout, with its identities."""

    def stopped(self, summary: dict[str, Any]) -> None:
        """The run's summary, once it stopped."""
