"""Safe state on an exception in the decoder, and the yoked sham replaying an earlier session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from stream_support import WindowMeanEngine, live_session
from trigger_support import STATES, feed, pulses

from rtdecode.data import bundled_recording
from rtdecode.live import SafetyConfig
from rtdecode.policy import TriggerEvent
from rtdecode.stream import FrameTiming, Prediction, ReplaySource, SessionFile
from rtdecode.trigger import DeviceEmulator, PolicyConfig, Safety, TriggerController, YokedSham
from rtdecode.trigger._serial import SerialOutput


class FailingEngine(WindowMeanEngine):
    """Alternates confident forward/reversal (so the loop fires), then fails mid-pulse."""

    def __init__(self, fail_at: int) -> None:
        super().__init__(window=2)
        self.calls = 0
        self.fail_at = fail_at

    def infer(self, window: np.ndarray, valid: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("CUDA error: an illegal memory access (simulated)")
        p = 0.95 if (self.calls // 3) % 2 else 0.05
        return np.array([1 - p, p], np.float32)


def test_an_exception_in_the_decoder_leaves_the_light_off() -> None:
    recording = bundled_recording()
    config = PolicyConfig(
        rule="onset",
        on=0.6,
        off=0.4,
        pulse_ms=5000.0,
        refractory_s=0.0,
        stale_ms=1e4,
        max_per_min=100,
    )
    with DeviceEmulator() as device:
        safety = SafetyConfig(outputs=(f"serial://{device.port}",), arm=True, watchdog_ms=6e4)
        live = live_session(
            ReplaySource(recording, speed=200.0),
            FailingEngine(fail_at=30),
            max_batch=1,
            policy=config,
            safety=safety,
        )
        controller = live.controller
        assert controller is not None
        with pytest.raises(RuntimeError, match="illegal memory access"):
            live.run()
        assert device.wait_for(lambda: bool(device.light) and not device.light_on)
        # a 5 s pulse was on when the decoder failed: the host cut it, not the pulse's end
        assert device.light[-1].cause == "off"
        assert device.pulses() and device.errors == []
    last = controller.events[-1]
    assert (last.kind, last.reason) == ("disarm", "error") and not controller.armed


def test_yoked_sham_replays_the_pulse_times_of_an_earlier_session(tmp_path: Path) -> None:
    path = tmp_path / "earlier.h5"
    session = SessionFile(path)
    session.open(STATES)
    for seq in range(100):  # frames at 100.0 + 0.5 s steps
        prediction = Prediction(seq, 100.0 + 0.5 * seq, np.array([0.5, 0.5], np.float32), 0, 0)
        session.publish(prediction)
        session.record_frame(FrameTiming(seq, 100.0 + 0.5 * seq, -1, 0, 0, 1, 1), prediction)
    for seq, kind in [(10, "fire"), (12, "suppressed"), (40, "sham"), (41, "arm"), (70, "fire")]:
        session.record_trigger(TriggerEvent(seq, 100.0 + 0.5 * seq, kind, "", 500.0, 10.0))
    session.close({})
    sham = YokedSham.from_session(path)
    np.testing.assert_allclose(sham.offsets_s, [5.0, 20.0, 35.0])  # fires and shams only
    # a new session starting at t = 7.0 with 0.25 s frames gets its shams at the same offsets
    due = [round(7.0 + 0.25 * i, 2) for i in range(200) if sham.due(0.0, 7.0 + 0.25 * i)]
    assert due == [12.0, 27.0, 42.0]


def test_a_failing_event_log_is_dropped_and_the_loop_goes_on() -> None:

    def disk_full(event: TriggerEvent) -> None:
        raise OSError(28, "No space left on device")

    config = PolicyConfig(rule="onset", on=0.6, off=0.4, refractory_s=0.0, max_per_min=100)
    with DeviceEmulator() as device:
        controller = TriggerController(
            config,
            [SerialOutput(device.port)],
            Safety(armed=True, watchdog_s=60.0, frame_clock=True),
            event_logs=[disk_full],
        )
        controller.open(STATES)
        for seq in range(6):
            feed(controller, seq, float(seq), 0.9 if seq % 2 else 0.1)
            controller.record_frame(FrameTiming(seq, float(seq), -1, 0, 0, 1, 1))
        controller.close({})
        assert device.wait_for(lambda: len(device.pulses()) == 3)
    assert controller.event_logs == [] and len(pulses(controller)) == 3
