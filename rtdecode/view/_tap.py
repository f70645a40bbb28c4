"""The tap: a bounded, drop-oldest, never-blocking channel from the decode loop to the view.

The tap is one of the live path's taps and listeners (:class:`rtdecode.live.Tap` and
:class:`rtdecode.live.StreamListener`, at the end of the post-inference chain): the chain calls
it once per published frame, after the prediction has gone out and off the critical path
(:meth:`ViewTap.__call__`; the frame's preprocessed row comes from its processor's
``latest_row``), once per behaviour sample, closed-loop event and neuron layout, and with the
stream's summary when it stops; each is a few copies of small arrays and a ``deque.append``. Nothing in the tap waits: when the view falls
behind, the oldest items are dropped (and counted). A thread of the view's own (see
:mod:`rtdecode.view._feed`) drains it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from rtdecode.policy import TriggerEvent
    from rtdecode.stream import FrameTiming, Prediction

__all__ = ["BehaviorSample", "FrameSnapshot", "StreamContext", "ViewTap"]


class FrameSnapshot(NamedTuple):
    """One decoded frame as the view sees it (arrays are the tap's own copies).

    ``features`` is the frame's preprocessed row ``(n, F)`` (channel 0 is the normalised
    activity the raster shows), ``valid`` its ``(n,)`` mask; ``latency_us`` is frame
    received -> prediction published; ``target`` the aligned behaviour (1 reversal, 0 not,
    -1 unknown).
    """

    seq: int
    t: float
    probs: np.ndarray
    uncertain: bool
    head: int
    skipped: int
    latency_us: float
    target: int
    features: np.ndarray
    valid: np.ndarray


class BehaviorSample(NamedTuple):
    """One tracked behaviour sample (velocity mm/s, reversal 0/1, NaN when unknown)."""

    seq: int
    t: float
    velocity: float
    reversal: float


@dataclass
class StreamContext:
    """What the view needs to know about a stream once (sent again for late joiners).

    Attributes
    ----------
    name
        The stream's source address (a tab title).
    states
        State names in the order of the probabilities.
    model
        The model file the decoder runs (``None``: the shipped default), for the edge module.
    labels
        Neuron identities (``None`` entries where unknown) or ``None``.
    frame_interval_s
        The stream's frame interval when known.
    window
        Stream frames the engine keeps.
    abstain
        The abstain band on the reversal probability, or ``None``.
    trigger
        The trigger policy as a JSON-ready dict (threshold, caps), empty without one.
    """

    name: str
    states: tuple[str, ...]
    model: str | None = None
    labels: tuple[str | None, ...] | None = None
    frame_interval_s: float | None = None
    window: int = 0
    abstain: tuple[float, float] | None = None
    trigger: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (see :meth:`from_json`)."""
        return {
            "name": self.name,
            "states": list(self.states),
            "model": self.model,
            "labels": None if self.labels is None else list(self.labels),
            "frame_interval_s": self.frame_interval_s,
            "window": self.window,
            "abstain": None if self.abstain is None else list(self.abstain),
            "trigger": self.trigger,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> StreamContext:
        """The context from :meth:`to_json`'s dict."""
        labels = body.get("labels")
        abstain = body.get("abstain")
        return cls(
            name=str(body["name"]),
            states=tuple(body["states"]),
            model=body.get("model"),
            labels=None if labels is None else tuple(labels),
            frame_interval_s=body.get("frame_interval_s"),
            window=int(body.get("window", 0)),
            abstain=None if abstain is None else (float(abstain[0]), float(abstain[1])),
            trigger=dict(body.get("trigger") or {}),
        )


class ViewTap:
    """Bounded drop-oldest channel; the decode loop offers, the view's thread drains.

    Parameters
    ----------
    context
        The stream's :class:`StreamContext`.
    capacity
        Items held at most; offering to a full tap drops the oldest item (counted in
        :attr:`dropped`).
    health
        Returns the decoder's counters (its summary); polled by the view's thread, never by
        the decode loop.
    row
        Returns the published frame's preprocessed row, ``(n, F)`` features and the ``(n,)``
        mask (:meth:`rtdecode.live.StreamProcessor.latest_row`), read in :meth:`__call__`.

    Attributes
    ----------
    wake
        Set after each frame is offered (by the thread that drains the tap, to drain right
        after a frame; ``None``: nobody waits).
    offered, dropped
        Items offered, and dropped because the view did not drain them in time.
    summary
        The decoder's end-of-run summary once it stopped (``None`` while it runs).
    """

    def __init__(
        self,
        context: StreamContext,
        capacity: int = 4096,
        health: Callable[[], dict[str, Any]] | None = None,
        row: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        self.context = context
        self.health = health
        self.row = row
        self._items: deque[FrameSnapshot | BehaviorSample | Any] = deque(maxlen=capacity)
        self.wake: threading.Event | None = None  # set on each frame for the draining thread
        self.offered = 0
        self.dropped = 0
        self.summary: dict[str, Any] | None = None

    def _put(self, item: Any) -> None:
        items = self._items
        if len(items) == items.maxlen:
            self.dropped += 1
        items.append(item)  # atomic; the maxlen deque drops the oldest
        self.offered += 1

    def __call__(self, prediction: Prediction, timing: FrameTiming, target: int | None) -> None:
        """Offer one published frame with its preprocessed row (copies the arrays; never
        blocks); its latency is frame received -> prediction published."""
        if self.row is None:
            raise RuntimeError("a ViewTap offered frames needs row= (the processor's latest_row)")
        features, valid = self.row()
        self._put(
            FrameSnapshot(
                prediction.seq,
                prediction.t,
                prediction.probs.copy(),
                bool(prediction.uncertain),
                prediction.head,
                prediction.skipped,
                (timing.published_ns - timing.recv_ns) / 1e3,
                -1 if target is None else target,
                features.copy(),
                valid.copy(),
            )
        )
        if self.wake is not None:
            self.wake.set()

    def behavior(self, seq: int, t: float, velocity: float, reversal: float) -> None:
        """Offer one behaviour sample (the signature of a sink's ``record_behavior``)."""
        self._put(BehaviorSample(seq, t, velocity, reversal))

    def trigger(self, event: TriggerEvent) -> None:
        """Offer one closed-loop event (the actuator's event log, through the chain)."""
        self._put(event)

    def layout(self, labels: tuple[str | None, ...] | None) -> None:
        """A new neuron layout with these identities (the view restarts its panels)."""
        self.context.labels = labels

    def stopped(self, summary: dict[str, Any]) -> None:
        """The decoder stopped with this summary (the page then shows it)."""
        self.summary = summary

    def drain(self) -> list[Any]:
        """Take everything offered so far, oldest first (the view's thread)."""
        items = self._items
        out = []
        while True:
            try:
                out.append(items.popleft())
            except IndexError:
                return out
