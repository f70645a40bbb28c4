"""The reporting outputs read back by independent clients: a raw ZeroMQ SUB socket and an LSL
inlet see every event, in order, with the documented fields; the driving output gets pulses."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import zmq
from stream_support import free_port
from trigger_support import STATES, feed, pulses

from rtdecode.errors import SourceError
from rtdecode.policy import PolicyConfig
from rtdecode.stream import TRIGGER_TOPIC, parse_trigger
from rtdecode.trigger._controller import Safety, TriggerController
from rtdecode.trigger._emulator import DeviceEmulator
from rtdecode.trigger._outputs import open_trigger_output

CONFIG = PolicyConfig(
    rule="onset", on=0.6, off=0.4, min_frames=1, refractory_s=2.5, max_per_min=100
)
SEQUENCE = [0.1, 0.9, 0.2, 0.95, 0.1, 0.8, 0.1]  # onsets at 1, 3 (refractory), 5
FIELDS = {"v", "seq", "t", "kind", "pulse_ms", "reason", "latency_us"}


def test_zeromq_subscriber_reads_every_event_with_its_latency() -> None:
    uri = f"zmq+tcp://127.0.0.1:{free_port()}"
    with DeviceEmulator() as device:
        controller = TriggerController(
            CONFIG,
            [open_trigger_output(uri), open_trigger_output(f"serial://{device.port}")],
            Safety(armed=True, watchdog_s=600.0, frame_clock=True),
        )
        controller.open(STATES)
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, TRIGGER_TOPIC)
        sub.connect(uri.removeprefix("zmq+"))
        time.sleep(0.5)  # PUB/SUB: the subscription must reach the publisher first
        for seq, p in enumerate(SEQUENCE):
            feed(controller, seq, seq * 1.0, p)
        controller.close({})
        messages = []
        while sub.poll(1000):
            messages.append(parse_trigger(sub.recv_multipart()))
        sub.close()
    sent = [e for e in controller.events if e.kind != "arm" or e.reason != "start"]
    assert (
        [(m["kind"], m["reason"], m["seq"]) for m in messages]
        == [
            ("fire", "", 1),
            ("suppressed", "refractory", 3),
            ("fire", "", 5),
            ("disarm", "stop", 6),
        ]
        == [(e.kind, e.reason, e.seq) for e in sent]
    )
    assert all(set(m) == FIELDS and m["v"] == 1 for m in messages)
    fires = [m for m in messages if m["kind"] == "fire"]
    assert all(m["latency_us"] > 0 and m["pulse_ms"] == CONFIG.pulse_ms for m in fires)
    assert [m["latency_us"] for m in fires] == [e.latency_us for e in pulses(controller)]
    assert len(device.pulses()) == 2


@pytest.mark.lsl
def test_lsl_marker_stream_carries_every_event() -> None:
    pylsl = pytest.importorskip("pylsl")
    name = f"rtdecode-trig-{uuid.uuid4().hex[:8]}"
    controller = TriggerController(
        CONFIG,
        [open_trigger_output(f"lsl://{name}")],
        Safety(armed=True, watchdog_s=600.0, frame_clock=True),
    )
    controller.open(STATES)
    try:
        streams = pylsl.resolve_byprop("name", name, minimum=1, timeout=20)
        assert streams, "the marker outlet was not found"
        info = streams[0]
        assert (info.type(), info.channel_count(), info.nominal_srate()) == ("Markers", 1, 0.0)
        assert info.channel_format() == pylsl.cf_string
        inlet = pylsl.StreamInlet(info)
        inlet.open_stream(timeout=10)
        time.sleep(0.3)
        for seq, p in enumerate(SEQUENCE):
            feed(controller, seq, seq * 1.0, p)
    finally:
        controller.close({})
    markers = []
    while True:
        sample, _ = inlet.pull_sample(timeout=2.0)
        if sample is None:
            break
        markers.append(json.loads(sample[0]))
    kinds = [(m["kind"], m["reason"]) for m in markers]
    assert kinds[-4:] == [
        ("fire", ""),
        ("suppressed", "refractory"),
        ("fire", ""),
        ("disarm", "stop"),
    ]
    assert all(set(m) == FIELDS for m in markers)


def test_unknown_trigger_output_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match="baud"):
        open_trigger_output("serial:///dev/ttyACM0?speed=9600")
