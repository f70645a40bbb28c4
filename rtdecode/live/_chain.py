"""After inference, in one place: head -> decision -> actuator -> sinks, then the taps.

Per decoded frame, on the critical path (:meth:`PostInference.publish`):

1. **head**: once self-calibration holds the animal's head, its probabilities replace the
   shipped model's (:meth:`~rtdecode.live.LiveCalibration.decode`); on the frame its fit is
   done, a ``--false-per-min`` threshold it chose goes to the actuator (``set_threshold``);
2. **decision** (:class:`DecisionStep`): the one argmax, and the one abstain band with the
   input's health, deciding whether the output is ``uncertain``. A fused decision or a
   per-animal threshold replaces this step; nothing after it recomputes either;
3. **actuator**: the closed loop (:class:`~rtdecode.trigger.TriggerController`) acts on the
   decision before anything is sent, so the pulse never waits for a network send;
4. **sinks**: ZeroMQ, LSL, the session file, in their order.

Off the critical path, once every stream of a batch has published, each frame's timing goes to
the actuator and the sinks (with a decoded frame's preprocessed row, which the session file
keeps for ``rtdecode view SESSION.h5``), then to the **taps** (:class:`Tap`): the place for a
live view (the browser view's :class:`~rtdecode.view.ViewTap` reads the frame's preprocessed row
from its processor, :meth:`~rtdecode.live.StreamProcessor.latest_row`). The stream's behaviour
samples, closed-loop events, neuron layouts and end summary go to its **listeners**
(:class:`StreamListener`), also off the critical path.
A sink that raises ``OSError`` is dropped from the run, logged and reported; the others go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rtdecode.log import get_logger
from rtdecode.policy import in_band
from rtdecode.stream import FrameTiming, Prediction, Sink

if TYPE_CHECKING:
    from rtdecode.live._calibrating import LiveCalibration
    from rtdecode.live._windower import Windower
    from rtdecode.policy import ThresholdChoice, TriggerEvent

__all__ = ["Actuator", "DecisionStep", "PostInference", "StreamListener", "Tap"]

_log = get_logger(__name__)


class Actuator(Protocol):
    """What closes the loop (:class:`~rtdecode.trigger.TriggerController`)."""

    def open(self, states: tuple[str, ...]) -> None:
        """Open the outputs (safe state first)."""

    def publish(self, prediction: Prediction) -> None:
        """Act on one decided prediction, now."""

    def record_frame(self, timing: FrameTiming) -> None:
        """Note that frames flow (for its watchdog), off the critical path."""

    def layout_reset(self) -> None:
        """The neuron layout changed."""

    def set_threshold(self, choice: ThresholdChoice) -> None:
        """The armed rule's threshold from now on (``--false-per-min``, when calibration ends)."""

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Drive the safe state and close the outputs."""

    def summary(self) -> dict[str, Any]:
        """Its block of the run's summary."""


class Tap(Protocol):
    """Sees every published prediction after the sinks, off the critical path (a live view).

    Called with the prediction (its arrays are reused: copy what you keep), the frame's
    timing, and the frame's aligned behaviour target (1 reversal, 0 not, ``None`` unknown).
    """

    def __call__(self, prediction: Prediction, timing: FrameTiming, target: int | None) -> None:
        """Take one published prediction."""


class StreamListener(Protocol):
    """Hears the rest of a stream, off the critical path (a live view); every call must return
    at once."""

    def behavior(self, seq: int, t: float, velocity: float, reversal: float) -> None:
        """One tracked behaviour sample."""

    def trigger(self, event: TriggerEvent) -> None:
        """One closed-loop event (the actuator's event log)."""

    def layout(self, labels: tuple[str | None, ...] | None) -> None:
        """A new neuron layout (the first one too), with its identities."""

    def stopped(self, summary: dict[str, Any]) -> None:
        """The stream stopped with this summary."""


class DecisionStep:
    """The one argmax and the one abstain band (see the module notes).

    Parameters
    ----------
    states
        The model's state names.
    abstain
        ``(lo, hi)``: a reversal probability strictly inside is ``uncertain``; ``None``: off.
    max_carried
        ``uncertain`` when more than this fraction of the window's values, or of its newest
        frame's values, were carried forward (missing or NaN input): so from the first frame
        that is mostly missing, not once the window has filled with them.
    """

    def __init__(
        self, states: tuple[str, ...], abstain: tuple[float, float] | None, max_carried: float
    ) -> None:
        self.abstain = abstain
        self.max_carried = max_carried
        self._reversal = states.index("reversal") if "reversal" in states else -1

    def __call__(self, prediction: Prediction, valid: np.ndarray, suspect: bool) -> None:
        """Decide ``prediction.state`` and ``prediction.uncertain`` from its probabilities.

        Parameters
        ----------
        prediction
            Its ``probs`` are final (the head step ran).
        valid
            The window's mask of real (not carried-forward) values.
        suspect
            The input cannot be trusted whatever its values: the layout changed and its running
            normalisation has not settled yet, or a frame time in the window did not increase.
        """
        probs = prediction.probs
        prediction.state = int(np.argmax(probs))
        kept = 1.0 - self.max_carried
        newest = valid[-1]
        prediction.uncertain = bool(
            suspect
            or np.count_nonzero(valid) < kept * valid.size
            or np.count_nonzero(newest) < kept * newest.size
            or (self._reversal >= 0 and in_band(float(probs[self._reversal]), self.abstain))
        )


class PostInference:
    """The steps after inference for one stream (see the module notes).

    Parameters
    ----------
    decision
        The decision step.
    sinks
        Where predictions go.
    actuator
        The closed loop, or ``None``.
    head
        Self-calibration, whose head may replace the shipped probabilities, or ``None``.
    taps
        Called after publishing, off the critical path.
    listeners
        Told of behaviour samples, closed-loop events, layouts and the end summary.

    Attributes
    ----------
    sinks_failed
        Sinks dropped after an ``OSError``: their address -> the error.
    """

    def __init__(
        self,
        decision: DecisionStep,
        sinks: Sequence[Sink],
        actuator: Actuator | None = None,
        head: LiveCalibration | None = None,
        taps: Sequence[Tap] = (),
        listeners: Sequence[StreamListener] = (),
    ) -> None:
        self.decision = decision
        self.sinks = list(sinks)
        self.actuator = actuator
        self.head = head
        self.taps = list(taps)
        self.listeners = list(listeners)
        self.sinks_failed: dict[str, str] = {}
        self._opened: list[Sink] = []
        self._actuator_open = False

    def open(self, states: tuple[str, ...]) -> None:
        """Open the actuator (its safe state first), then the sinks; on a failure, close
        what was opened and raise."""
        self._opened = []
        try:
            if self.actuator is not None:
                self.actuator.open(states)
                self._actuator_open = True
            for sink in self.sinks:
                sink.open(states)
                self._opened.append(sink)
        except BaseException:
            self.discard()
            raise

    # ------------------------------------------------------------------ per frame
    def publish(
        self,
        prediction: Prediction,
        window: np.ndarray,
        valid: np.ndarray,
        windower: Windower,
        suspect: bool,
    ) -> None:
        """The critical path: head, decision (``suspect``: see :class:`DecisionStep`),
        actuator, sinks."""
        head = self.head
        if head is not None:
            head.decode(prediction, window, valid, windower)
            choice = head.new_threshold()
            if choice is not None and self.actuator is not None:
                self.actuator.set_threshold(choice)
        self.decision(prediction, valid, suspect)
        if self.actuator is not None:
            self.actuator.publish(prediction)
        for sink in self.sinks:
            try:
                sink.publish(prediction)
            except OSError as exc:
                self._drop(sink, exc)

    def record_frame(
        self,
        timing: FrameTiming,
        prediction: Prediction | None,
        target: int | None = None,
        row: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """One received frame's row (with its prediction and preprocessed ``row``, features
        and mask, when decoded), then the taps."""
        if self.actuator is not None:
            self.actuator.record_frame(timing)
        for sink in self.sinks:
            try:
                sink.record_frame(timing, prediction)
                if row is not None:
                    sink.record_activity(timing.seq, timing.t, *row)
            except OSError as exc:
                self._drop(sink, exc)
        if prediction is not None:
            for tap in self.taps:
                tap(prediction, timing, target)

    def record_behavior(self, seq: int, t: float, velocity: float, reversal: float) -> None:
        """One behaviour sample to every sink, then the listeners."""
        for sink in self.sinks:
            try:
                sink.record_behavior(seq, t, velocity, reversal)
            except OSError as exc:
                self._drop(sink, exc)
        for listener in self.listeners:
            listener.behavior(seq, t, velocity, reversal)

    def record_trigger(self, event: TriggerEvent) -> None:
        """One closed-loop event to every sink (the actuator's event log), then the listeners."""
        for sink in self.sinks:
            try:
                sink.record_trigger(event)
            except OSError as exc:
                self._drop(sink, exc)
        for listener in self.listeners:
            listener.trigger(event)

    def record_calibration(self, outcome: dict[str, Any]) -> None:
        """Self-calibration's outcome, once at the end, to every sink still open."""
        for sink in self._opened:
            sink.record_calibration(outcome)

    def idle(self) -> None:
        """While no frame arrives: the sinks' chance to flush."""
        for sink in self.sinks:
            try:
                sink.idle()
            except OSError as exc:
                self._drop(sink, exc)

    def layout_reset(self) -> None:
        """The neuron layout changed: the actuator disarms, the sinks are told."""
        if self.actuator is not None:
            self.actuator.layout_reset()
        for sink in self.sinks:
            sink.layout_reset()

    def new_layout(
        self,
        labels: tuple[str | None, ...] | None,
        window: int = 0,
        frame_interval_s: float | None = None,
    ) -> None:
        """A new neuron layout (the first one too) with its identities, the engine's window
        and the configured frame interval, to the sinks and the listeners."""
        for sink in self.sinks:
            sink.record_layout(labels, window, frame_interval_s)
        for listener in self.listeners:
            listener.layout(labels)

    def _drop(self, sink: Sink, exc: OSError) -> None:
        """Take a failed sink out of the run (it is still closed at the end), log, report."""
        self.sinks = [s for s in self.sinks if s is not sink]  # the loop in progress goes on
        self.sinks_failed[sink.uri] = str(exc)
        _log.error("sink %s failed and was dropped, decoding goes on: %s", sink.uri, exc)

    # ------------------------------------------------------------------ end
    def close_actuator(self) -> None:
        """Close the actuator (safe state; its last events reach the still-open sinks)."""
        if self._actuator_open and self.actuator is not None:
            self._actuator_open = False
            self.actuator.close()

    def discard(self) -> None:
        """The start failed before the first frame: close the actuator (safe state) and
        discard the sinks opened (a session file deletes itself, so the retry does not meet
        it)."""
        self.close_actuator()
        opened, self._opened = self._opened, []
        for sink in opened:
            sink.discard()

    def close_sinks(self, summary: dict[str, Any] | None) -> None:
        """Close every sink opened (also those dropped after a failure) with the summary; the
        listeners get it first."""
        if summary is not None:
            for listener in self.listeners:
                listener.stopped(summary)
        opened, self._opened = self._opened, []
        for sink in opened:
            sink.close(summary)
