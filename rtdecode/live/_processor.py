"""The :class:`StreamProcessor`: one stream's frames -> window -> engine -> post-inference chain.

It owns no loop: a :class:`~rtdecode.live.Runner` asks it to :meth:`~StreamProcessor.take`
frames, decodes the window it offers (:meth:`~StreamProcessor.batch_input`) and hands the
probabilities back (:meth:`~StreamProcessor.publish`), for one stream or several.

Backpressure: the processor never blocks the producer (sources drop at a bounded queue, and
those losses show up as ``seq`` gaps) and never grows memory. Every received frame is
preprocessed (the causal state needs every frame, and it costs microseconds), but when
several frames are waiting, only the newest window is decoded; the others are counted as
``skipped``. When the decoder keeps up, every frame gets its prediction once the window has
filled. What happens to a prediction after inference is :mod:`rtdecode.live._chain`.
"""

from __future__ import annotations

import gc
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Any

import numpy as np

from rtdecode.errors import ModelError
from rtdecode.latency import LatencyHistogram
from rtdecode.live._calibrating import LiveCalibration
from rtdecode.live._chain import PostInference
from rtdecode.live._windower import Windower, compile_kernels
from rtdecode.log import RateLimitedLog, get_logger
from rtdecode.preprocess import BaselineConfig, BaselineTracker, Preprocessor
from rtdecode.stream import BehaviorTrack, Chunk, FrameTiming, Prediction, Source

if TYPE_CHECKING:  # engines pull in torch; protocol-only users (producers) should not pay for it
    from rtdecode.engines import Engine

__all__ = ["STAGES", "StreamProcessor"]

_log = get_logger(__name__)
_rate_limited = RateLimitedLog(_log)

STAGES = ("preprocess", "infer", "publish", "total", "overhead", "transport", "skipped")
"""Latency stages: received -> preprocessed -> inferred -> published; ``total`` is received ->
published (the decoder-added latency); ``overhead`` is ``total`` less inference (what the live
path itself adds); ``transport`` is the producer's send -> received, when the producer stamps
``sent_ns`` (same machine only); ``skipped`` is, for frames not decoded because newer ones
waited, received -> the prediction that replaced theirs published (how long the output lagged
behind them)."""

_WINDOW_COUNTERS = (
    "frames",
    "missing",
    "gaps",
    "restarts",
    "nan_values",
    "duplicates",
    "late",
    "time_backwards",
)
_STOP_FIT_WAIT_S = 1.0  # after a stop signal, longest wait for a calibration fit in flight
_FLIPPING_CHANGES, _FLIPPING_S = 5, 10.0  # this many layout changes this fast: diagnosed


class StreamProcessor:
    """One live stream's decoding, without a loop of its own (see the module notes).

    Parameters
    ----------
    source
        Where frames come from (started by :meth:`open`, stopped by :meth:`close`).
    engine
        The decoder; its ``window``, ``n_features`` and ``preprocess`` size the ring buffer
        and the preprocessing.
    chain
        What happens after inference: head, decision, actuator, sinks, taps.
    max_batch
        Most frames taken in one go before decoding when behind.
    max_frames
        Stop after this many frames (``None``: until stopped or the source ends).
    frame_interval_s
        The stream's frame interval, if known; otherwise estimated from the frame times.
    baseline
        The stream carries raw fluorescence: track each neuron's baseline and decode dF/F with
        these settings (``None``: the input is already normalised).
    settle_frames
        After a layout reset, predictions are ``uncertain`` until the new layout has seen
        this many frames (``None``: two windows, so the running normalisation has settled).
    behavior
        The tracked behaviour: each decoded frame is aligned to it, its samples go to the
        sinks' ``record_behavior`` and its counters to the summary.
    max_neurons
        Frames with more neurons are refused, counted as malformed (``too_many_neurons``).
    keep_warm_s
        When no frame has come for this many seconds, run one forward on the current window
        (result discarded), again every ``keep_warm_s`` while idle (``None``: never).
    calibration
        Self-calibration (needs ``behavior``): fed after publishing with each frame's aligned
        target; its head is the chain's head step. A layout reset restarts it.

    Attributes
    ----------
    predictions, uncertain, skipped, warming, resets
        Predictions published (and of them decided ``uncertain``); frames not decoded because
        newer ones were waiting; frames received while the window was filling; layout changes.
    last_state, last_target
        The latest prediction's decided state name and aligned target (``None`` without).
    latency
        Per-stage :class:`~rtdecode.latency.LatencyHistogram` (see :data:`STAGES`).
    """

    def __init__(
        self,
        source: Source,
        engine: Engine,
        chain: PostInference,
        *,
        max_batch: int,
        max_frames: int | None,
        frame_interval_s: float | None,
        baseline: BaselineConfig | None,
        settle_frames: int | None,
        behavior: BehaviorTrack | None,
        max_neurons: int,
        keep_warm_s: float | None,
        calibration: LiveCalibration | None,
    ) -> None:
        self.source = source
        self.engine = engine
        self.chain = chain
        self.max_frames = max_frames
        self.max_batch = max_batch
        self.frame_interval_s = frame_interval_s
        self.max_neurons = max_neurons
        self.baseline_config = baseline
        self.settle_frames = 2 * engine.window if settle_frames is None else settle_frames
        self.latency = {stage: LatencyHistogram() for stage in STAGES}
        self.keep_warm_s = keep_warm_s
        self.keep_warm_passes = 0
        self._last_forward = 0.0
        self.predictions = self.uncertain = self.skipped = self.warming = self.resets = 0
        self.last_state: str | None = None
        self._windower: Windower | None = None
        self._retired: Counter[str] = Counter()
        self._labels: tuple[str | None, ...] | None = None
        self._prepared_interval: float | None = None
        self._pending = FrameTiming(0, 0.0, -1, 0, 0, -1, -1)
        self._has_pending = False
        self._pending_filled = False
        self._skipped_since = 0
        self._skipped_recv = np.zeros(2 * max_batch + 1, np.int64)  # their recv_ns
        self._taken = 0
        self._prediction = Prediction(0, 0.0, np.zeros(len(engine.states), np.float32), 0, 0)
        self._started = 0.0
        self._elapsed = 0.0
        self.behavior = behavior
        self.last_target: int | None = None
        self._record_behavior = chain.record_behavior  # one bound method, made once
        self.calibration = calibration
        self._layout_changes: deque[float] = deque(maxlen=_FLIPPING_CHANGES)
        self._layouts_diagnosed = False

    @property
    def frames(self) -> int:
        """Frames received so far."""
        return self._counter("frames")

    def _counter(self, name: str) -> int:
        current = getattr(self._windower, name, 0) if self._windower else 0
        return self._retired[name] + current

    @property
    def sinks(self) -> list[Any]:
        """The sinks still in the run."""
        return self.chain.sinks

    # -------------------------------------------------------------- steps for the runner
    @property
    def idle_timeout(self) -> float:
        """Longest wait for a frame between two idle ticks (sink flushes, keep-warm passes)."""
        return min(0.05, self.keep_warm_s or 0.05)

    @property
    def finished(self) -> bool:
        """``max_frames`` reached or the finite source has delivered everything."""
        return self._done() or (not self._has_pending and self.source.finished)

    def open(self) -> None:
        """Open the chain (actuator, then sinks), compile the preprocessing kernels and start
        the source.

        When any of it fails (a sink cannot bind, no such LSL stream...), what was opened is
        closed and the sinks are discarded: no empty session file is left to block the retry.
        """
        self.chain.open(self.engine.states)
        try:
            compile_kernels(self.engine.preprocess, self.baseline_config)  # not on frame time
            self.source.start()
        except BaseException:
            self.chain.discard()
            raise
        self._started = time.monotonic()

    def take(self, timeout: float) -> bool:
        """Read and preprocess what the source has (up to ``max_batch`` frames).

        Waits up to ``timeout`` seconds for the first chunk; when none comes, gives the sinks
        their idle call and runs a keep-warm pass when one is due.

        Returns
        -------
        bool
            Whether frames were taken (a window may now wait for :meth:`batch_input`).
        """
        chunk = self.source.read(timeout)
        if chunk is None:
            if not self.source.finished:
                self._idle()
            return False
        self._taken = 0
        first = self.frames
        self._ingest(chunk)
        while self.frames - first < self.max_batch and not self._done():
            more = self.source.read(0.0)
            if more is None:
                break
            self._ingest(more)
        return True

    def _idle(self) -> None:
        if self.keep_warm_s is not None:
            self._keep_warm()
        self.chain.idle()

    def drain_behavior(self) -> None:
        """Hand the behaviour samples that arrived to the sinks (between frames)."""
        if self.behavior is not None:
            self.behavior.drain(self._record_behavior)

    def close(self, stopped: bool = False) -> dict[str, Any]:
        """Stop the source, flush behaviour and calibration, close the chain with the summary.

        Parameters
        ----------
        stopped
            The run was asked to stop (a signal): a calibration fit in flight gets a second,
            so that the stop stays prompt.

        Returns
        -------
        dict
            The summary (see :meth:`summary`), with the actuator's block once it closed.
        """
        self._elapsed = time.monotonic() - self._started if self._started else 0.0
        self.source.stop()
        if self.behavior is not None and self._started:  # the sinks are open
            self.behavior.drain(self._record_behavior)
        if self.calibration is not None and self._started:
            self.calibration.finish(_STOP_FIT_WAIT_S if stopped else 60.0)
            self.chain.record_calibration(self.calibration.outcome())
        self.chain.close_actuator()  # first: the light is off before anything else closes
        summary = self.summary()
        self.chain.close_sinks(summary)
        return summary

    def _done(self) -> bool:
        return self.max_frames is not None and self.frames >= self.max_frames

    # ------------------------------------------------------------------ frames
    def _ingest(self, chunk: Chunk) -> None:
        """Preprocess every frame of ``chunk``; the newest stays pending for decoding.

        Every ``max_batch`` frames, the newest is decoded, whatever is still waiting.
        """
        if chunk.n_neurons > self.max_neurons:
            self.source.malformed["too_many_neurons"] += 1
            _rate_limited.warning(
                "too_many_neurons",
                f"{self.source.uri}: refused a frame of {chunk.n_neurons} neurons; this decoder "
                f"serves at most {self.max_neurons} (source.max_neurons, --max-neurons)",
            )
            return
        windower = self._windower
        if (
            windower is None
            or chunk.n_neurons != windower.n_neurons
            or (chunk.labels is not None and chunk.labels != self._labels)
        ):
            windower = self._new_layout(chunk)
        sent_ns = -1 if chunk.sent_ns is None else chunk.sent_ns
        for i in range(chunk.n_frames):
            if self._done():
                break
            t = float(chunk.t[i])
            if not windower.push(chunk.data[i], chunk.seq + i, t):
                continue  # a duplicate or a late frame: dropped and counted by the windower
            preprocessed_ns = time.perf_counter_ns()
            if self.calibration is not None and not windower.filled:
                self._calibrate_warming(windower, t)
            if self._has_pending:
                self._retire_pending()
            pending = self._pending
            pending.seq = chunk.seq + i
            pending.t = t
            pending.sent_ns = sent_ns
            pending.recv_ns = chunk.recv_ns
            pending.preprocessed_ns = preprocessed_ns
            self._has_pending = True
            self._pending_filled = windower.filled
            self._taken += 1
            if self._taken >= self.max_batch:
                self.decode_pending()
                self._taken = 0

    def _retire_pending(self) -> None:
        """Record the pending frame as not decoded (window filling, or a newer frame waits)."""
        pending = self._pending
        pending.inferred_ns = pending.published_ns = -1
        if self._pending_filled:
            self.skipped += 1
            if self._skipped_since < len(self._skipped_recv):
                self._skipped_recv[self._skipped_since] = pending.recv_ns
            self._skipped_since += 1
        else:
            self.warming += 1
        self.chain.record_frame(pending, None)
        self._has_pending = False

    def decode_pending(self, record: bool = True) -> None:
        """Decode the newest waiting frame's window and publish the prediction.

        Parameters
        ----------
        record
            As for :meth:`publish`.
        """
        window = self.batch_input()
        if window is not None:
            self.publish(self.engine.infer(*window), record=record)

    def batch_input(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``(window, valid)`` to decode for the newest waiting frame, or ``None``.

        A waiting frame whose window is still filling is recorded as warming instead. The
        engine is ready for the window (re-prepared once the frame interval is known); its
        probabilities go to :meth:`publish`.
        """
        windower = self._windower
        if not self._has_pending or windower is None:
            return None
        if not self._pending_filled:
            self._retire_pending()
            return None
        self._prepare_for_interval()
        return windower.window_view()

    def publish(
        self, probs: np.ndarray, inferred_ns: int | None = None, record: bool = True
    ) -> None:
        """Run the waiting frame's post-inference chain on the engine's ``probs``; time it.

        Parameters
        ----------
        probs
            The engine's state probabilities for the window :meth:`batch_input` gave.
        inferred_ns
            ``perf_counter_ns()`` when they were computed (default: now); a batch decoded for
            several streams gives every stream the batch's end.
        record
            Then do :meth:`record_published`; a runner serving several streams calls it
            itself once every stream of the batch has published.
        """
        windower = self._windower
        assert windower is not None and self._has_pending
        pending = self._pending
        window, valid = windower.window_view()
        if inferred_ns is None:
            inferred_ns = time.perf_counter_ns()
        self._last_forward = inferred_ns / 1e9
        prediction = self._prediction
        prediction.seq = pending.seq
        prediction.t = pending.t
        prediction.probs = probs
        prediction.recv_ns = pending.recv_ns
        prediction.skipped = self._skipped_since
        prediction.head = 0
        # the input cannot be trusted whatever its values: a new layout's normalisation has not
        # settled, or a frame time in the window did not increase
        suspect = (
            bool(self.resets) and windower.frames < self.settle_frames
        ) or windower.time_suspect
        self.chain.publish(prediction, window, valid, windower, suspect)
        published_ns = time.perf_counter_ns()
        self.uncertain += prediction.uncertain
        pending.inferred_ns = inferred_ns
        pending.published_ns = published_ns
        self.predictions += 1
        self.last_state = self.engine.states[prediction.state]
        self._record_latency(pending, inferred_ns, published_ns)
        if record:
            self.record_published()

    def _record_latency(self, pending: FrameTiming, inferred_ns: int, published_ns: int) -> None:
        """Each stage's latency for the published frame (and the frames it replaced)."""
        skipped, self._skipped_since = self._skipped_since, 0
        latency = self.latency
        latency["preprocess"].record(pending.preprocessed_ns - pending.recv_ns)
        latency["infer"].record(inferred_ns - pending.preprocessed_ns)
        latency["publish"].record(published_ns - inferred_ns)
        latency["total"].record(published_ns - pending.recv_ns)
        latency["overhead"].record(
            published_ns - inferred_ns + pending.preprocessed_ns - pending.recv_ns
        )
        if pending.sent_ns >= 0:
            latency["transport"].record(pending.recv_ns - pending.sent_ns)
        if skipped:
            for recv_ns in self._skipped_recv[: min(skipped, len(self._skipped_recv))]:
                latency["skipped"].record(published_ns - int(recv_ns))

    def record_published(self) -> None:
        """The published frame's bookkeeping, off the critical path: its behaviour target,
        self-calibration's learning, its row in every sink, the taps (see :meth:`publish`)."""
        windower = self._windower
        assert windower is not None and self._has_pending
        pending, prediction = self._pending, self._prediction
        if self.behavior is not None:
            self.last_target = self.behavior.target_at(pending.t)
            if self.calibration is not None:
                window, valid = windower.window_view()
                self.calibration.learn(window, valid, pending.t, windower, self.last_target)
        self.chain.record_frame(pending, prediction, self.last_target, self.latest_row())
        self._has_pending = False

    def latest_row(self) -> tuple[np.ndarray, np.ndarray]:
        """The newest frame's preprocessed row, ``(n, F)`` features and the ``(n,)`` mask of
        real values: for a tap, which the chain calls right after that frame's prediction was
        published (views into the ring: copy what you keep)."""
        assert self._windower is not None
        window, valid = self._windower.window_view()
        return window[-1], valid[-1]

    def _calibrate_warming(self, windower: Windower, t: float) -> None:
        """Feed a frame of a filling window to calibration (it will get no prediction)."""
        assert self.calibration is not None
        target = None if self.behavior is None else self.behavior.target_at(t, count=False)
        window, valid = windower.window_view()
        self.calibration.warming(window, valid, t, windower, target)

    def _keep_warm(self) -> None:
        """One discarded forward on the current window once ``keep_warm_s`` passed idle."""
        assert self.keep_warm_s is not None
        now = time.perf_counter_ns() / 1e9
        if self._windower is None or now - self._last_forward < self.keep_warm_s:
            return
        self.engine.infer(*self._windower.window_view())
        self.keep_warm_passes += 1
        self._last_forward = time.perf_counter_ns() / 1e9

    # ------------------------------------------------------------------ layout
    def _new_layout(self, chunk: Chunk) -> Windower:
        """Start a fresh window and preprocessing state for a new neuron layout."""
        old = self._windower
        if old is not None:
            if self._has_pending:
                self._retire_pending()
            for name in _WINDOW_COUNTERS:
                self._retired[name] += getattr(old, name)
            self.resets += 1
            self.chain.layout_reset()
            _rate_limited.warning(
                "layout",
                f"stream layout changed from {old.n_neurons} to {chunk.n_neurons} neurons"
                f"{'' if chunk.n_neurons != old.n_neurons else ' (new neuron labels)'}: window "
                f"and preprocessing reset ({self.resets} layout changes so far)",
            )
            self._diagnose_layouts()
        preprocessor = Preprocessor(chunk.n_neurons, self.engine.preprocess)
        if preprocessor.n_features != self.engine.n_features:
            raise ModelError(
                f"engine '{self.engine.name}' expects {self.engine.n_features} features per "
                f"neuron but the preprocessing gives {preprocessor.n_features}; use a model "
                "trained with this version of rtdecode"
            )
        baseline = (
            None
            if self.baseline_config is None
            else BaselineTracker(chunk.n_neurons, self.baseline_config)
        )
        self._windower = Windower(self.engine.window, preprocessor, baseline)
        if chunk.labels is not None:
            self._labels = chunk.labels
        elif old is None or chunk.n_neurons != old.n_neurons:
            self._labels = None
        self._prepared_interval = None
        if self.calibration is not None:
            self.calibration.new_layout(chunk.n_neurons)
        self.chain.new_layout(self._labels, self.engine.window, self.frame_interval_s)
        # Prepare and warm the engine now, while no prediction waits on it.
        self.engine.prepare(chunk.n_neurons, self._labels, self.frame_interval_s)
        window, valid = self._windower.window_view()
        for _ in range(3):
            self.engine.infer(window, valid)
        gc.collect()
        gc.freeze()  # long-lived objects out of the collector's way: shorter GC pauses
        return self._windower

    def _diagnose_layouts(self) -> None:
        """Say once what is wrong when the layout keeps changing: no window can ever fill."""
        now = time.monotonic()
        self._layout_changes.append(now)
        recent = self._layout_changes
        if self._layouts_diagnosed or len(recent) < _FLIPPING_CHANGES:
            return
        if now - recent[-_FLIPPING_CHANGES] <= _FLIPPING_S:
            self._layouts_diagnosed = True
            _log.error(
                "%s: the neuron layout changed %d times in %.1f s (%d frames in all): the "
                "producer sends frames of different neuron counts or label lists, so no window "
                "fills and nothing is decoded; check that one producer sends one fixed list of "
                "neurons on this address (two producers on one socket look like this)",
                self.source.uri,
                _FLIPPING_CHANGES,
                now - recent[-_FLIPPING_CHANGES],
                self.frames,
            )

    def _prepare_for_interval(self) -> None:
        """Re-prepare once with the frame interval measured over the first window."""
        windower = self._windower
        if self._prepared_interval is not None or self.frame_interval_s is not None:
            return
        assert windower is not None
        interval = windower.interval_estimate()
        self._prepared_interval = interval if interval is not None else float("nan")
        if interval is not None:
            self.engine.prepare(windower.n_neurons, self._labels, interval)

    # ------------------------------------------------------------------ report
    def counters(self) -> dict[str, Any]:
        """The summary's counters alone: cheap enough to poll while running (the live view's
        health); no percentiles, no behaviour, calibration or trigger blocks."""
        malformed = dict(self.source.malformed)
        return {
            "frames": self.frames,
            "predictions": self.predictions,
            "uncertain": self.uncertain,
            "skipped": self.skipped,
            "warming": self.warming,
            "missing_frames": self._counter("missing"),
            "gaps": self._counter("gaps"),
            "restarts": self._counter("restarts"),
            "duplicates": self._counter("duplicates"),
            "late": self._counter("late"),
            "time_backwards": self._counter("time_backwards"),
            "resets": self.resets,
            "keep_warm_passes": self.keep_warm_passes,
            "nan_values": self._counter("nan_values"),
            "malformed": malformed,
            "malformed_total": sum(malformed.values()),
        }

    def summary(self) -> dict[str, Any]:
        """Counters and per-stage latency percentiles (microseconds), with the behaviour's,
        self-calibration's and the actuator's blocks when there are some."""
        counters = self.counters()
        frames = counters["frames"]
        extra: dict[str, Any] = {}
        if self.behavior is not None:
            extra["behavior"] = self.behavior.summary()
        if self.calibration is not None:
            extra["calibration"] = self.calibration.summary()
        if self.chain.actuator is not None:
            extra["trigger"] = self.chain.actuator.summary()
        return {
            "source": self.source.uri,
            "engine": self.engine.name,
            "states": list(self.engine.states),
            "window": self.engine.window,
            **counters,
            "sinks_failed": dict(self.chain.sinks_failed),
            "source_stats": self.source.stats(),
            "duration_s": round(self._elapsed, 3),
            "frames_per_s": round(frames / self._elapsed, 2) if self._elapsed > 0 else 0.0,
            "latency_us": {stage: hist.summary_us() for stage, hist in self.latency.items()},
            **extra,
        }
