"""The :class:`Sink` interface and the :class:`Prediction` and :class:`FrameTiming` it receives."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rtdecode.policy import TriggerEvent

__all__ = ["FrameTiming", "Prediction", "Sink"]


@dataclass(slots=True)
class Prediction:
    """The decoder's output for one frame.

    Attributes
    ----------
    seq, t
        Sequence number and acquisition time of the frame decoded.
    probs
        ``(len(states),)`` float32 probabilities (owned by the pipeline; copy to keep).
    state
        Index of the decided state (the decision step's one argmax).
    recv_ns
        ``perf_counter_ns()`` when the frame was received.
    skipped
        Frames received since the previous prediction that were not decoded (backpressure).
    uncertain
        The decided output is ``uncertain`` rather than ``state``: the reversal probability is
        inside the abstain band, or the input is unhealthy (too many carried-forward values in
        the window, or a layout reset whose normalisation is still settling).
    head
        Which head gave ``probs``: 0 the shipped model, 1 the animal's calibrated head.
    """

    seq: int
    t: float
    probs: np.ndarray
    state: int
    recv_ns: int
    skipped: int = 0
    uncertain: bool = False
    head: int = 0


@dataclass(slots=True)
class FrameTiming:
    """Timing of one received frame, all ``time.perf_counter_ns()`` (CLOCK_MONOTONIC).

    ``inferred_ns`` and ``published_ns`` are -1 for frames that were not decoded (window not
    yet filled, or skipped under backpressure); ``sent_ns`` is -1 when the producer did not say.
    """

    seq: int
    t: float
    sent_ns: int
    recv_ns: int
    preprocessed_ns: int
    inferred_ns: int
    published_ns: int


class Sink(ABC):
    """Where predictions go.

    Life cycle: :meth:`open` once with the state names, :meth:`publish` per prediction (the
    time-critical call), :meth:`record_frame` per received frame after publishing (off the
    critical path, with the frame's prediction when it was decoded, then the decoded frame's row
    to :meth:`record_activity`), :meth:`record_layout` when a neuron layout starts,
    :meth:`record_behavior` per behaviour sample between frames, :meth:`record_trigger` per
    closed-loop event, :meth:`idle` while no frame arrives, :meth:`layout_reset` when the neuron
    layout changes, :meth:`record_calibration` once before :meth:`close` (with
    self-calibration), :meth:`close` with the run's summary. An ``OSError`` from
    :meth:`publish`, :meth:`record_frame`, :meth:`record_behavior`, :meth:`record_trigger` or
    :meth:`idle` drops the sink from the run (logged and reported in the summary); the others
    carry on.
    """

    uri: str

    @abstractmethod
    def open(self, states: tuple[str, ...]) -> None:
        """Open the output for predictions over ``states``."""

    @abstractmethod
    def publish(self, prediction: Prediction) -> None:
        """Send one prediction now."""

    def record_frame(  # noqa: B027 - optional hook
        self, timing: FrameTiming, prediction: Prediction | None = None
    ) -> None:
        """Note one frame's timing, and its prediction when it was decoded (only the session
        file keeps them)."""

    def record_activity(  # noqa: B027 - optional hook
        self, seq: int, t: float, features: np.ndarray, valid: np.ndarray
    ) -> None:
        """Note a published frame's preprocessed ``(n, F)`` row and ``(n,)`` mask, right after
        its :meth:`record_frame` (views into the decoder's ring: copy what you keep; only the
        session file keeps them)."""

    def record_layout(  # noqa: B027 - optional hook
        self, labels: tuple[str | None, ...] | None, window: int, frame_interval_s: float | None
    ) -> None:
        """A neuron layout starts (the first one too): its identities, the engine's window in
        frames and the configured frame interval (``None``: measured)."""

    def record_behavior(  # noqa: B027 - optional hook
        self, seq: int, t: float, velocity: float, reversal: float
    ) -> None:
        """Note one behaviour sample (velocity mm/s, reversal 0/1, NaN when unknown)."""

    def record_trigger(self, event: TriggerEvent) -> None:  # noqa: B027 - optional hook
        """Note one closed-loop event (only the session file keeps it)."""

    def record_calibration(self, outcome: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Note self-calibration's outcome at the end of the run (JSON-ready, with the head's
        weights when one decodes; only the session file keeps it)."""

    def idle(self) -> None:  # noqa: B027 - optional hook
        """Called while the pipeline waits for frames (at least every 50 ms): a chance to flush."""

    def layout_reset(self) -> None:  # noqa: B027 - optional hook
        """The stream's neuron layout changed: no predictions until the new window fills."""

    def close(self, summary: dict[str, Any] | None = None) -> None:  # noqa: B027 - optional hook
        """Flush and close; ``summary`` is the run's end-of-run summary."""

    def discard(self) -> None:
        """The run failed before its first frame: close leaving nothing a retry would meet
        (a session file deletes itself); other sinks just close."""
        self.close(None)
