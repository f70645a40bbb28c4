"""The serial trigger path on a real pty: the emulated device checks every byte and its time,
a missing, silent or unplugged device is an error or a logged disarm, never a hang, and a host
killed with SIGKILL leaves the light off because its heartbeats stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from trigger_support import STATES, feed, pulses

from rtdecode.errors import SourceError
from rtdecode.policy import PolicyConfig, TriggerEvent
from rtdecode.trigger._controller import Safety, TriggerController
from rtdecode.trigger._device_protocol import HEARTBEAT_S, HEARTBEAT_TIMEOUT_S, VERSION_REPLY
from rtdecode.trigger._emulator import DeviceEmulator
from rtdecode.trigger._serial import SerialOutput


def test_every_byte_arrives_as_written_and_in_order() -> None:
    with DeviceEmulator() as device:
        out = SerialOutput(device.port)
        out.open()
        assert out.version == VERSION_REPLY.decode().strip()
        written: list[tuple[int, bytes]] = []
        for event, line in [
            (TriggerEvent(1, 0.5, "fire", "", 300.0), b"P300\n"),
            (TriggerEvent(2, 0.6, "off", "", 0.0), b"O\n"),
            (TriggerEvent(3, 0.7, "sham", "", 12.4), b"P12\n"),
            (TriggerEvent(4, 0.8, "suppressed", "refractory", 12.0), b""),  # drives nothing
            (TriggerEvent(5, 0.9, "disarm", "no_frames", 0.0), b"O\n"),
        ]:
            before = time.perf_counter_ns()
            out.emit(event)
            if line:
                written.append((before, line))
            time.sleep(0.04)
        out.heartbeat()
        out.close()
        # the handshake (V, then O: safe at start), the events, the heartbeat, O at close
        expected = [b"V\n", b"O\n"] + [line for _, line in written] + [b"H\n", b"O\n"]
        assert device.wait_for(lambda: len(device.lines) >= len(expected))
        time.sleep(0.05)  # nothing more may come
    lines = [line for _, line in device.lines]
    assert lines == expected
    assert b"".join(chunk for _, chunk in device.received) == b"".join(lines)
    assert device.errors == []
    for (sent_ns, line), (got_ns, got) in zip(written, device.lines[2:6], strict=True):
        assert got == line and got_ns >= sent_ns  # each line arrived after it was written
    on, end, on2, off = device.light[:4]
    assert (on.on, end.on, on2.on, off.on) == (True, False, True, False)
    assert end.cause == "off" and off.cause == "pulse_end"  # O cut the first pulse short
    assert (off.t_ns - on2.t_ns) >= 12e6  # the 12 ms pulse lasted its 12 ms


def test_missing_device_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match=r"cannot open trigger device .*plugged in"):
        SerialOutput("/dev/rtdecode-no-such-device").open()


def test_device_that_does_not_answer_is_a_clear_error_not_a_hang() -> None:
    with DeviceEmulator(answer=False) as device:
        with pytest.raises(SourceError, match="did not answer the version query"):
            SerialOutput(device.port, answer_s=0.3).open()


def test_device_unplugged_mid_session_disarms_and_the_loop_goes_on() -> None:
    config = PolicyConfig(
        rule="onset", on=0.6, off=0.4, min_frames=1, refractory_s=0.0, max_per_min=1000
    )
    device = DeviceEmulator()
    controller = TriggerController(
        config, [SerialOutput(device.port)], Safety(armed=True, frame_clock=True)
    )
    controller.open(STATES)
    try:
        feed(controller, 0, 0.0, 0.1)
        feed(controller, 1, 0.1, 0.9)
        assert [e.kind for e in pulses(controller)] == ["fire"]
        device.unplug()
        for seq in range(2, 8):  # more onsets: each write would fail; none may raise
            feed(controller, seq, seq / 10, 0.1 if seq % 2 else 0.9)
    finally:
        controller.close({})
    disarms = [e for e in controller.events if e.kind == "disarm"]
    assert disarms and disarms[0].reason == "output_error"
    assert not controller.armed and len(pulses(controller)) == 1


KILLED_HOST = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, "tests")
    from trigger_support import STATES, feed
    from rtdecode.trigger._controller import Safety, TriggerController
    from rtdecode.policy import PolicyConfig
    from rtdecode.trigger._serial import SerialOutput
    config = PolicyConfig(rule="onset", on=0.6, off=0.4, min_frames=1, pulse_ms=5000.0)
    controller = TriggerController(config, [SerialOutput(sys.argv[1])], Safety(armed=True, watchdog_s=60))
    controller.open(STATES)
    feed(controller, 0, 0.0, 0.1)
    feed(controller, 1, 0.6, 0.9)
    print("fired", flush=True)
    time.sleep(60)
    """
)


def test_kill_9_host_light_goes_off_when_heartbeats_stop() -> None:
    with DeviceEmulator() as device:
        host = subprocess.Popen(
            [sys.executable, "-c", KILLED_HOST, device.port], stdout=subprocess.PIPE, text=True
        )
        try:
            assert host.stdout is not None and host.stdout.readline().strip() == "fired"
            assert device.wait_for(lambda: device.light_on)
            time.sleep(3 * HEARTBEAT_TIMEOUT_S)  # heartbeats keep the 5 s pulse going
            assert device.light_on
            beats = [t for t, line in device.lines if line == b"H\n"]
            assert len(beats) >= 3 * HEARTBEAT_TIMEOUT_S / HEARTBEAT_S / 2
            os.kill(host.pid, signal.SIGKILL)
            host.wait(10)
            assert device.wait_for(lambda: not device.light_on, 5.0)
        finally:
            if host.poll() is None:
                host.kill()
    last_line = device.lines[-1][0]
    off = device.light[-1]
    assert off.cause == "heartbeat"  # the firmware's own watchdog, not the (dead) host
    assert off.t_ns - last_line >= HEARTBEAT_TIMEOUT_S * 1e9
    assert device.errors == []
