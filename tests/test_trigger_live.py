"""The watchdog end to end, in real time: a real ZeroMQ stream into the pipeline, the trigger
driving an emulated device on a real pty, the session file logging it all. Frames stopping, a
hung decoder, a neuron-layout reset and a storm of malformed messages each disarm and drive the
light off; the loop re-arms once healthy, and says so."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import zmq
from stream_support import WindowMeanEngine, bare_config, free_port

from rtdecode.live import SafetyConfig, open_session
from rtdecode.policy import PolicyConfig
from rtdecode.stream import encode_frame, open_source
from rtdecode.trigger._emulator import DeviceEmulator

PERIOD = 0.1  # 10 frames/s: the watchdog's two frame periods are 200 ms
CONFIG = PolicyConfig(on=0.6, off=0.4, refractory_s=5.0, stale_ms=1000.0)


class HangingEngine(WindowMeanEngine):
    """The test decoder, which can be made to hang inside ``infer`` (a stuck GPU call)."""

    def __init__(self) -> None:
        super().__init__(window=4)
        self.hang = threading.Event()
        self.release = threading.Event()

    def infer(self, window: np.ndarray, valid: np.ndarray) -> np.ndarray:
        if self.hang.is_set():
            self.release.wait(30)
        return super().infer(window, valid)


class Rig:
    """Producer PUB socket -> a live session (in a thread) -> trigger -> emulated device."""

    def __init__(self, path: Path) -> None:
        port = free_port()
        self.pub = zmq.Context.instance().socket(zmq.PUB)
        self.pub.bind(f"tcp://127.0.0.1:{port}")
        self.device = DeviceEmulator()
        self.path = path
        self.engine = HangingEngine()
        config = bare_config(
            max_batch=1,
            sinks=(str(path),),  # the session file, with the policy among its attributes
            policy=CONFIG,
            safety=SafetyConfig(outputs=(f"serial://{self.device.port}",), arm=True),
        )
        source = open_source(f"zmq+tcp://127.0.0.1:{port}")
        self.session = open_session(config, engine=self.engine, sources=[source])
        assert self.session.controller is not None
        self.controller = self.session.controller
        self.pipeline = self.session.streams[0]
        self.summary: dict[str, Any] = {}
        self.thread = threading.Thread(target=lambda: self.summary.update(self.session.run()))
        self.thread.start()
        self.seq = 0
        self.mark = 0
        self.rng = np.random.default_rng(0)
        deadline = time.monotonic() + 30
        while self.pipeline.predictions < 10:  # PUB/SUB joins late: stream until decoding
            assert time.monotonic() < deadline, "the pipeline never started decoding"
            self.send(1)

    def send(self, frames: int, neurons: int = 20) -> None:
        for _ in range(frames):
            values = self.rng.normal(size=neurons).astype(np.float32)
            self.pub.send_multipart(encode_frame(self.seq, self.seq * PERIOD, values))
            self.seq += 1
            time.sleep(PERIOD)

    def disarms(self) -> list[str]:
        return [e.reason for e in self.controller.events if e.kind == "disarm"]

    def stream_until_armed(self) -> None:
        """Send frames until the loop is armed (a loaded machine may have tripped it)."""
        deadline = time.monotonic() + 30
        self.send(5)
        while not self.controller.armed:
            assert time.monotonic() < deadline, "never armed"
            self.send(1)
        self.mark = len(self.controller.events)

    def rearmed(self) -> bool:
        """Re-armed since the loop was last armed by :meth:`stream_until_armed`."""
        return any(e.reason == "rearm" for e in self.controller.events[self.mark :])

    def close(self) -> None:
        self.session.stop()
        self.engine.release.set()
        self.thread.join(30)
        self.device.close()
        self.pub.close(linger=0)


@pytest.fixture
def rig(tmp_path: Path):  # type: ignore[no-untyped-def]
    rig = Rig(tmp_path / "session.h5")
    yield rig
    rig.close()


def off_after(rig: Rig, t_ns: int) -> int:
    """When the device received the first ``O`` (light off) after ``t_ns``."""
    assert rig.device.wait_for(
        lambda: any(t > t_ns and line == b"O\n" for t, line in rig.device.lines)
    )
    return next(t for t, line in rig.device.lines if t > t_ns and line == b"O\n")


def test_frames_stopping_drive_the_safe_state_within_two_frame_periods(rig: Rig) -> None:
    rig.stream_until_armed()
    before = len(rig.controller.events)
    last_recv = rig.controller._last_ns
    assert rig.device.wait_for(lambda: "no_frames" in rig.disarms())
    delay_s = (off_after(rig, last_recv) - last_recv) / 1e9
    # the next frame was due one period after the last; the light must be off two periods later
    print(f"\nlast frame -> light-off byte at the device: {delay_s * 1e3:.1f} ms (period 100 ms)")
    assert delay_s <= 3 * PERIOD
    assert not rig.device.light_on
    assert [(e.kind, e.reason) for e in rig.controller.events[before:]] == [("disarm", "no_frames")]
    rig.send(10)  # frames again: re-armed, and logged
    assert rig.device.wait_for(rig.rearmed)
    rig.close()
    with h5py.File(rig.path) as handle:
        kinds = list(handle["triggers/kind"].asstr()[:])
        reasons = list(handle["triggers/reason"].asstr()[:])
        assert json.loads(handle.attrs["policy"])["stale_ms"] == 1000.0
        # the file's summary has the trigger's block, as the run's --json summary does
        trigger = json.loads(handle.attrs["summary"])["trigger"]
    assert trigger == rig.summary["trigger"] and trigger["armed"] is False
    events = [(k, r) for k, r in zip(kinds, reasons, strict=True) if k in ("arm", "disarm")]
    assert events[0] == ("arm", "start") and events[-1] == ("disarm", "stop")
    assert ("disarm", "no_frames") in events and ("arm", "rearm") in events
    assert events == [
        (e.kind, e.reason) for e in rig.controller.events if e.kind in ("arm", "disarm")
    ]


def test_a_hung_decoder_is_disarmed_by_the_watchdog_thread(rig: Rig) -> None:
    rig.stream_until_armed()
    rig.engine.hang.set()
    hung_at = time.perf_counter_ns()
    rig.send(10)  # frames keep coming; the decoder is stuck inside infer
    assert rig.disarms()[-1] == "no_frames" and not rig.controller.armed
    off_after(rig, hung_at)
    rig.engine.hang.clear()
    rig.engine.release.set()
    rig.send(10)
    assert rig.device.wait_for(rig.rearmed)


def test_a_layout_reset_disarms_until_the_window_refills(rig: Rig) -> None:
    rig.stream_until_armed()
    reset_at = time.perf_counter_ns()
    rig.send(2, neurons=21)
    assert rig.disarms()[-1] == "layout_reset" and not rig.controller.armed
    off_after(rig, reset_at)
    rig.send(10, neurons=21)
    assert rig.device.wait_for(rig.rearmed)
    rearm = next(e for e in rig.controller.events if e.reason == "rearm")
    first_new = rig.seq - 12
    assert rearm.seq >= first_new + rig.engine.window - 1  # not before the new window filled


def test_a_storm_of_malformed_messages_disarms(rig: Rig) -> None:
    rig.stream_until_armed()
    storm_at = time.perf_counter_ns()
    for _ in range(50):
        rig.pub.send_multipart([b"frame", b"{not json", b""])
    rig.send(4)
    assert rig.device.wait_for(lambda: "malformed" in rig.disarms())
    off_after(rig, storm_at)
    rig.send(30)  # a quiet second and healthy frames: re-armed
    assert rig.device.wait_for(rig.rearmed)
