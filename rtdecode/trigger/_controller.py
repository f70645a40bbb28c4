"""The trigger controller: the policy wrapped in arming, interlocks, a watchdog, shams and outputs.

It is the actuator of the live path's post-inference chain (:mod:`rtdecode.live._chain`):
every decided prediction reaches it before any sink (the decision is taken and the pulse
written right there, on the decoding thread), then every frame's timing, off the critical path.
A watchdog thread of its own sends the device heartbeats and disarms, driving the safe state,
when frames stop reaching it (the stream stopped, or the decoder hung), so a stuck decoder
cannot hold a light on.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rtdecode.errors import ConfigError
from rtdecode.latency import LatencyHistogram
from rtdecode.log import RateLimitedLog, get_logger
from rtdecode.policy import Decision, Policy, PolicyConfig, ThresholdChoice, TriggerEvent
from rtdecode.stream import FrameTiming, Prediction
from rtdecode.trigger._device_protocol import HEARTBEAT_S
from rtdecode.trigger._guard import DoseGuard
from rtdecode.trigger._output import TriggerOutput
from rtdecode.trigger._sham import Sham

__all__ = ["MIN_WATCHDOG_S", "Safety", "TriggerController"]

_log = get_logger(__name__)

MIN_WATCHDOG_S = 0.05
"""The watchdog never waits less than this for a frame (scheduling jitter on a busy host)."""


@dataclass(frozen=True)
class Safety:
    """Arming and interlock settings (everything outside the policy).

    Parameters
    ----------
    armed
        Drive the outputs (``--arm``); otherwise fires are logged as suppressed, ``disarmed``.
    dry_run
        Run armed (watchdog, arm/disarm events) but drive nothing: fires are logged as
        suppressed, ``dry_run``.
    watchdog_s
        Disarm when no frame reached the trigger for this long; ``None``: two frame periods
        as measured from the arrival times (never less than :data:`MIN_WATCHDOG_S`).
    rearm
        ``"auto"``: re-arm (logged, reason ``rearm``) once the cause has cleared and
        ``healthy_frames`` predictions in a row came within the deadline; ``"never"``: stay
        disarmed until restarted. A failed output never re-arms.
    healthy_frames
        Predictions in a row over the policy's ``stale_ms`` that disarm (``latency``), and in
        a row under it that allow re-arming.
    malformed_per_s
        Malformed messages within one second that disarm (``malformed``); re-arming waits for
        a second without any.
    frame_clock
        Run the policy (refractory, rate cap, shams) on the frames' acquisition times instead
        of the host clock: for replays faster than real time.
    """

    armed: bool = False
    dry_run: bool = False
    watchdog_s: float | None = None
    rearm: str = "auto"
    healthy_frames: int = 3
    malformed_per_s: float = 20.0
    frame_clock: bool = False

    def __post_init__(self) -> None:
        if self.rearm not in ("auto", "never"):
            raise ConfigError(f"rearm must be 'auto' or 'never', got '{self.rearm}'")
        if self.watchdog_s is not None and not self.watchdog_s > 0:
            raise ConfigError(f"the watchdog time must be > 0 s, got {self.watchdog_s}")
        if self.healthy_frames < 1 or not self.malformed_per_s > 0:
            raise ConfigError("healthy_frames must be >= 1 and malformed_per_s > 0")


class TriggerController:
    """Closed-loop trigger on the live pipeline.

    Parameters
    ----------
    config
        The trigger policy.
    outputs
        Where events go; driving outputs (serial) are written first and carry the latency.
    safety
        Arming and interlocks.
    sham
        A sham control (pulses unrelated to the brain; the policy's fires are then withheld
        and logged as suppressed, ``sham``).
    malformed
        Returns the number of malformed messages the source has counted so far (polled by the
        watchdog for storms).
    event_logs
        Called with every event, on the decoding thread (the live chain's ``record_trigger``,
        which hands it to every sink).

    Attributes
    ----------
    events
        Every event so far (rare: at most one per frame, usually a few per minute).
    latency
        ``trigger``: frame received -> pulse byte written; ``added``: decision -> written.
    """

    uri = "trigger"
    """Its name in logs."""

    def __init__(
        self,
        config: PolicyConfig,
        outputs: Sequence[TriggerOutput],
        safety: Safety | None = None,
        *,
        sham: Sham | None = None,
        malformed: Callable[[], int] | None = None,
        event_logs: Sequence[Callable[[TriggerEvent], None]] = (),
    ) -> None:
        self.config = config
        self.safety = safety or Safety()
        self.sham = sham
        self.outputs = sorted(outputs, key=lambda out: not out.drives)  # drivers first
        self._malformed = malformed
        self.event_logs = list(event_logs)
        self.guard = DoseGuard(
            config.refractory_s, config.max_per_min, config.max_pulses, config.max_light_s
        )
        self.latency = {"trigger": LatencyHistogram(), "added": LatencyHistogram()}
        self.events: list[TriggerEvent] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        self.armed = False
        self.fault = ""
        self._policy: Policy | None = None
        self.threshold: ThresholdChoice | None = None
        self._failed: set[int] = set()
        self._lock = threading.RLock()
        self._unlogged: deque[TriggerEvent] = deque()
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._seq, self._t = -1, float("nan")
        self._last_ns = 0  # perf_counter_ns of the latest frame activity (0: none yet)
        self._arrivals: deque[int] = deque(maxlen=33)
        self._interval_s: float | None = None
        self._healthy = 0
        self._late = 0
        self._malformed_quiet = True
        self._warn = RateLimitedLog(_log)

    # ------------------------------------------------------------------ life cycle
    def open(self, states: tuple[str, ...]) -> None:
        """Open the outputs, drive the safe state, start the watchdog, arm if asked."""
        self._policy = Policy(self.config, states)
        opened: list[TriggerOutput] = []
        try:
            for out in self.outputs:
                out.open()
                opened.append(out)
        except Exception:
            for out in opened:
                out.close()
            raise
        with self._lock:
            self._drive_safe()
            if self.safety.armed or self.safety.dry_run:
                self._set_armed(True, "start")
        self._watchdog = threading.Thread(target=self._watch, name="trigger-watchdog", daemon=True)
        self._watchdog.start()

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Stop the watchdog, drive the safe state, log the disarm, close the outputs."""
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(2.0)
        with self._lock:
            if self.armed:  # closed while an exception unwinds the pipeline: reason "error"
                self._set_armed(False, "error" if sys.exc_info()[1] is not None else "stop")
            self._drive_safe()
            for out in self.outputs:
                out.close()
        self._drain()

    # ------------------------------------------------------------------ per frame
    def publish(self, prediction: Prediction) -> None:
        """Take the policy's decision on this prediction and act on it now."""
        now_ns = time.perf_counter_ns()
        self._last_ns = now_ns
        self._seq, self._t = prediction.seq, prediction.t
        age_s = (now_ns - prediction.recv_ns) / 1e9
        if self.armed or self.fault:
            self._check_latency(age_s)
        now_s = prediction.t if self.safety.frame_clock else now_ns / 1e9
        assert self._policy is not None, "open() the controller first"
        decision = self._policy.step(prediction.probs, now_s, age_s, prediction.uncertain)
        decided_ns = time.perf_counter_ns()
        if decision is not None:
            self._decide(decision, prediction, now_s, decided_ns)
        if self.sham is not None and self.sham.due(now_s, prediction.t):
            self._pulse("sham", prediction, now_s, self.config.pulse_ms, decided_ns)

    def record_frame(self, timing: FrameTiming) -> None:
        """Note that frames flow (for the watchdog) and hand new events to the event logs."""
        now_ns = time.perf_counter_ns()
        self._last_ns = now_ns
        if timing.published_ns < 0:
            self._seq, self._t = timing.seq, timing.t
        self._arrivals.append(timing.recv_ns)
        if len(self._arrivals) >= 4 and (self._interval_s is None or timing.seq % 16 == 0):
            gaps = np.diff(np.asarray(self._arrivals))
            gaps = gaps[gaps > 0]
            if len(gaps):
                self._interval_s = float(np.median(gaps)) / 1e9
        if self._unlogged:
            self._drain()

    def set_threshold(self, choice: ThresholdChoice) -> None:
        """The armed rule fires at ``choice.threshold`` (a logit) from now on (``--false-per-min``,
        set when self-calibration ends; kept for the summary)."""
        assert self._policy is not None, "open() the controller first"
        self._policy.set_threshold(choice.threshold)
        self.threshold = choice

    def layout_reset(self) -> None:
        """The neuron layout changed: disarm until the window has refilled."""
        with self._lock:
            self._healthy = 0
            self._disarm("layout_reset")

    # ------------------------------------------------------------------ decisions
    def _decide(
        self, decision: Decision, prediction: Prediction, now_s: float, decided_ns: int
    ) -> None:
        if decision.kind == "fire":
            if self.sham is not None:
                self.sham.policy_fired()
                self._record(self._event(prediction, "suppressed", "sham", decision.pulse_ms))
            else:
                self._pulse("fire", prediction, now_s, decision.pulse_ms, decided_ns)
        elif decision.kind == "off":
            with self._lock:
                event = self._event(prediction, "off", "", 0.0)
                if self.armed and not self.safety.dry_run:
                    self._write(event, drivers=True)
                    self.guard.cut_short(now_s)
                self._record(event)
        else:
            self._record(self._event(prediction, "suppressed", decision.reason, decision.pulse_ms))

    def _pulse(
        self, kind: str, prediction: Prediction, now_s: float, pulse_ms: float, decided_ns: int
    ) -> None:
        with self._lock:
            reason = (
                "disarmed"
                if not self.armed
                else "dry_run"
                if self.safety.dry_run
                else self.guard.refusal(now_s, pulse_ms)
            )
            if reason:
                self._record(self._event(prediction, "suppressed", reason, pulse_ms))
                return
            event = self._event(prediction, kind, "", pulse_ms)
            self._write(event, drivers=True)
            written_ns = time.perf_counter_ns()
            if not self.armed:  # the device failed while being written (already disarmed)
                event.kind, event.reason = "suppressed", "output_error"
            else:
                self.guard.commit(now_s, pulse_ms)
                event.latency_us = (written_ns - prediction.recv_ns) / 1e3
                self.latency["trigger"].record(written_ns - prediction.recv_ns)
                self.latency["added"].record(written_ns - decided_ns)
            self._record(event)

    def _event(
        self, prediction: Prediction, kind: str, reason: str, pulse_ms: float
    ) -> TriggerEvent:
        return TriggerEvent(prediction.seq, prediction.t, kind, reason, pulse_ms)

    # ------------------------------------------------------------------ arming
    def _check_latency(self, age_s: float) -> None:
        """Disarm after ``healthy_frames`` late predictions; re-arm after as many on time."""
        if age_s * 1e3 > self.config.stale_ms:
            self._late += 1
            self._healthy = 0
            if self._late >= self.safety.healthy_frames and self.armed:
                with self._lock:
                    self._disarm("latency")
            return
        self._late = 0
        self._healthy += 1
        if (
            self.fault
            and self.safety.rearm == "auto"
            and self.fault != "output_error"
            and self._healthy >= self.safety.healthy_frames
            and self._malformed_quiet
        ):
            with self._lock:
                if self.fault and not self.armed:
                    _log.warning("trigger re-armed after '%s' cleared", self.fault)
                    self._set_armed(True, "rearm")

    def _disarm(self, reason: str) -> None:
        """Disarm (if armed), drive the safe state and remember why (caller holds the lock)."""
        if not self.armed:
            return
        _log.warning("trigger disarmed: %s", reason)
        self._set_armed(False, reason)
        self.fault = reason

    def _set_armed(self, armed: bool, reason: str) -> None:
        self.armed = armed
        if armed:
            self.fault = ""
        event = TriggerEvent(self._seq, self._t, "arm" if armed else "disarm", reason, 0.0)
        if not armed:
            self._drive_safe()
        self._record(event)

    def _drive_safe(self) -> None:
        for i, out in enumerate(self.outputs):
            if out.drives and i not in self._failed:
                try:
                    out.safe()
                except OSError as exc:
                    self._output_failed(i, exc)

    # ------------------------------------------------------------------ outputs
    def _write(self, event: TriggerEvent, drivers: bool) -> None:
        """Write ``event`` to the driving outputs (``drivers``) or to the reporting ones."""
        for i, out in enumerate(self.outputs):
            if out.drives != drivers or i in self._failed:
                continue
            try:
                out.emit(event)
            except Exception as exc:  # a reporter must never stop the loop; a driver disarms
                if out.drives:
                    self._output_failed(i, exc)
                else:
                    self._warn.warning(out.uri, f"trigger output {out.uri} failed: {exc}")

    def _output_failed(self, index: int, exc: BaseException) -> None:
        self._failed.add(index)
        _log.error("trigger device %s failed (%s): disarming", self.outputs[index].uri, exc)
        if self.armed:
            self._disarm("output_error")
        self.fault = "output_error"

    def _record(self, event: TriggerEvent) -> None:
        """Send ``event`` to the reporting outputs and log it (driving outputs only ever get
        the pulses, ``off`` and the safe state, written by the callers)."""
        with self._lock:
            self._write(event, drivers=False)
            self.events.append(event)
            self.counts[event.kind, event.reason] += 1
            self._unlogged.append(event)

    def _drain(self) -> None:
        """Hand queued events to the event logs; a log that fails (disk full) is dropped, and
        the loop goes on: losing the log must not stop the trigger or its watchdog."""
        while self._unlogged:
            event = self._unlogged.popleft()
            for log in list(self.event_logs):
                try:
                    log(event)
                except OSError as exc:
                    _log.error("trigger event log failed (%s): events are no longer logged", exc)
                    self.event_logs.remove(log)

    # ------------------------------------------------------------------ watchdog
    def watchdog_s(self) -> float | None:
        """Seconds without a frame that disarm (``None`` until the frame period is known)."""
        if self.safety.watchdog_s is not None:
            return self.safety.watchdog_s
        if self._interval_s is None:
            return None
        return max(2.0 * self._interval_s, MIN_WATCHDOG_S)

    def _watch(self) -> None:
        next_beat = 0.0
        malformed: deque[tuple[float, int]] = deque()
        while True:
            limit = self.watchdog_s()
            tick = 0.01 if limit is None else min(max(limit / 8, 0.001), 0.01)
            if self._stop.wait(tick):
                return
            now = time.monotonic()
            if limit is not None and self._last_ns and self.armed:
                if time.perf_counter_ns() - self._last_ns > limit * 1e9:
                    with self._lock:
                        self._healthy = 0
                        self._disarm("no_frames")
            if self._malformed is not None:
                self._check_malformed(now, malformed)
            if now >= next_beat:
                next_beat = now + HEARTBEAT_S
                with self._lock:
                    for i, out in enumerate(self.outputs):
                        if out.drives and i not in self._failed:
                            try:
                                out.heartbeat()
                            except OSError as exc:
                                self._output_failed(i, exc)

    def _check_malformed(self, now: float, history: deque[tuple[float, int]]) -> None:
        assert self._malformed is not None
        try:
            count = self._malformed()
        except RuntimeError:  # the source's counter dict grew while being read: next tick
            return
        history.append((now, count))
        while len(history) > 1 and now - history[0][0] > 1.0:
            history.popleft()
        burst = count - history[0][1]
        self._malformed_quiet = burst == 0
        if burst >= self.safety.malformed_per_s and self.armed:
            with self._lock:
                self._healthy = 0
                self._disarm("malformed")

    # ------------------------------------------------------------------ report
    def summary(self) -> dict[str, Any]:
        """Pulses, shams, suppressed by reason, arm/disarm events and trigger latency (us)."""
        by_kind: dict[str, dict[str, int]] = {}
        for (kind, reason), n in sorted(self.counts.items()):
            by_kind.setdefault(kind, {})[reason or kind] = n
        return {
            "policy": asdict(self.config),
            "armed": self.armed,
            "dry_run": self.safety.dry_run,
            "sham": None if self.sham is None else self.sham.name,
            "pulses": self.guard.pulses,
            "light_s": round(self.guard.light_s, 3),
            "events": by_kind,
            "watchdog_s": self.watchdog_s(),
            "threshold": None if self.threshold is None else self.threshold.as_dict(),
            "latency_us": {name: hist.summary_us() for name, hist in self.latency.items()},
        }
