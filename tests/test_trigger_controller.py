"""Property tests of the trigger controller on a real pty device: whatever the brain does, the
light never exceeds the rate or dose caps or the refractory period, and nothing fires while
disarmed or in a dry run."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trigger_support import STATES, feed, pulses

from rtdecode.policy import PolicyConfig
from rtdecode.trigger._controller import Safety, TriggerController
from rtdecode.trigger._emulator import DeviceEmulator
from rtdecode.trigger._serial import SerialOutput
from rtdecode.trigger._sham import PoissonSham, Sham, YokedSham

probabilities = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=300)
steps = st.lists(st.floats(0.05, 8.0), min_size=1, max_size=300)
policies = st.builds(
    PolicyConfig,
    on=st.floats(0.5, 0.9),
    off=st.floats(0.1, 0.5),
    min_frames=st.integers(1, 3),
    pulse_ms=st.floats(1.0, 500.0),
    refractory_s=st.floats(0.0, 20.0),
    max_per_min=st.integers(1, 30),
    max_pulses=st.none() | st.integers(0, 20),
    max_light_s=st.none() | st.floats(0.0, 5.0),
)
slow = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_session(
    config: PolicyConfig, safety: Safety, probs: list[float], dts: list[float], sham: bool | Sham
) -> tuple[TriggerController, DeviceEmulator]:
    """Feed the sequence through a controller driving an emulated device; frame times from dts."""
    device = DeviceEmulator()
    controller = TriggerController(
        config,
        [SerialOutput(device.port)],
        safety,
        sham=sham if isinstance(sham, Sham) else PoissonSham(seed=len(probs)) if sham else None,
    )
    controller.open(STATES)
    t = 0.0
    for seq, p in enumerate(probs):
        t += dts[seq % len(dts)]
        feed(controller, seq, t, p, uncertain=seq % 7 == 3)
    controller.close({})
    device.wait_for(lambda: bool(device.lines) and device.lines[-1][1] == b"O\n")
    device.close()
    return controller, device


yoked = st.lists(st.floats(0.0, 600.0), max_size=200).map(
    lambda offsets: YokedSham(np.array(offsets), "hypothesis")
)


@slow
@given(config=policies, probs=probabilities, dts=steps, sham=st.booleans() | yoked)
def test_armed_never_exceeds_the_caps_or_the_refractory_period(
    config: PolicyConfig, probs: list[float], dts: list[float], sham: bool | Sham
) -> None:
    safety = Safety(armed=True, watchdog_s=600.0, frame_clock=True)
    controller, device = run_session(config, safety, probs, dts, sham)
    driven = pulses(controller)
    times = np.array([e.t for e in driven])
    assert np.all(np.diff(times) >= config.refractory_s - 1e-9)
    for start in times:  # any 60 s window, anchored on each pulse
        assert np.sum((times >= start) & (times < start + 60.0)) <= config.max_per_min
    if config.max_pulses is not None:
        assert len(driven) <= config.max_pulses
    if config.max_light_s is not None:
        assert sum(e.pulse_ms for e in driven) / 1e3 <= config.max_light_s + 1e-9
    # the device got exactly one pulse line per driven pulse, nothing it does not understand
    assert len(device.pulses()) == len(driven)
    assert device.errors == []
    if sham:  # a sham session never drives the brain-triggered fires
        assert all(e.kind == "sham" for e in driven)


@slow
@given(
    config=policies,
    probs=probabilities,
    dts=steps,
    sham=st.booleans() | yoked,
    mode=st.sampled_from(["disarmed", "dry_run", "dry_run_armed"]),
)
def test_nothing_fires_while_disarmed_or_in_a_dry_run(
    config: PolicyConfig, probs: list[float], dts: list[float], sham: bool | Sham, mode: str
) -> None:
    safety = Safety(
        armed=mode == "dry_run_armed",
        dry_run=mode != "disarmed",
        watchdog_s=600.0,
        frame_clock=True,
    )
    controller, device = run_session(config, safety, probs, dts, sham)
    assert pulses(controller) == []
    assert device.pulses() == []
    assert device.light == []
    withheld = {e.reason for e in controller.events if e.kind == "suppressed"}
    assert ("disarmed" in withheld) <= (mode == "disarmed")
    assert ("dry_run" in withheld) <= (mode != "disarmed")


def test_dry_run_logs_what_would_have_fired() -> None:
    config = PolicyConfig(
        rule="onset", on=0.6, off=0.4, min_frames=1, refractory_s=0.0, max_per_min=100
    )
    controller, device = run_session(
        config, Safety(dry_run=True, frame_clock=True), [0.1, 0.9, 0.1, 0.1, 0.9], [1.0], False
    )
    would = [e for e in controller.events if e.reason == "dry_run"]
    assert [e.seq for e in would] == [1, 4] and device.pulses() == []
    kinds = [e.kind for e in controller.events]
    assert kinds[0] == "arm" and kinds[-1] == "disarm"  # a dry run rehearses arming too


def test_state_rule_holds_the_light_and_turns_it_off_when_the_state_ends() -> None:
    config = PolicyConfig(
        rule="state", on=0.6, off=0.4, max_state_s=8.0, refractory_s=0.0, max_light_s=12.0
    )
    probs = [0.1, 0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.1]  # two reversals of 3 s and 2 s
    controller, device = run_session(
        config, Safety(armed=True, watchdog_s=600.0, frame_clock=True), probs, [1.0], False
    )
    kinds = [(e.kind, e.seq) for e in controller.events if e.kind in ("fire", "off", "suppressed")]
    # the second hold fits the 12 s light cap only because the first one was cut short at 3 s
    assert kinds == [("fire", 1), ("off", 4), ("fire", 5), ("off", 7)], controller.events
    assert [ms for _, ms in device.pulses()] == [8000, 8000]
    assert [(c.on, c.cause) for c in device.light] == [
        (True, "pulse"),
        (False, "off"),
        (True, "pulse"),
        (False, "off"),
    ]
    assert controller.guard.light_s == pytest.approx(5.0)


def test_poisson_sham_matches_the_rate_the_policy_would_have_had() -> None:
    config = PolicyConfig(
        rule="onset", on=0.6, off=0.4, refractory_s=2.0, max_per_min=30, pulse_ms=10.0
    )
    # an hour at 2 frames/s with an onset every 20 s
    probs = [0.9 if i % 40 == 39 else 0.1 for i in range(7200)]
    controller, device = run_session(
        config, Safety(armed=True, watchdog_s=600.0, frame_clock=True), probs, [0.5], True
    )
    withheld = [e for e in controller.events if e.reason == "sham"]
    shams = pulses(controller)
    # every onset, but those on the frames run_session marks uncertain (abstain)
    assert len(withheld) == sum(1 for i in range(39, 7200, 40) if i % 7 != 3) == 154
    assert all(e.kind == "sham" for e in shams)
    assert 129 <= len(shams) <= 179  # Poisson with mean ~154: within 2 s.d.
    times = np.array([e.t for e in shams])
    onset_times = np.array([e.t for e in withheld])
    # unrelated to the brain: few shams land on the frames where the policy would have fired
    assert np.isin(times, onset_times).sum() < 0.2 * len(shams)
    assert len(device.pulses()) == len(shams)
