"""The tracked behaviour beside the calcium stream: wire format, time alignment, counters."""

from __future__ import annotations

import json
import math
import struct
import threading
import time
import tracemalloc
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest
import zmq
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from stream_support import WindowMeanEngine, free_port, live_session

from rtdecode.cli import cli
from rtdecode.data import Recording, bundled_recording
from rtdecode.errors import SourceError
from rtdecode.stream import (
    BEHAVIOR_MALFORMED_REASONS,
    BehaviorReceiver,
    BehaviorTrack,
    FrameTiming,
    MalformedMessage,
    Prediction,
    ReplaySource,
    ZmqFramePublisher,
    encode_behavior,
    encode_frame,
    open_sink,
    open_source,
    parse_address,
    parse_behavior,
    play,
)


def _header(**changes: object) -> bytes:
    header: dict[str, object] = {"v": 1, "seq": 3, "t": 2.5, "fields": ["velocity", "reversal"]}
    header.update(changes)
    return json.dumps(header).encode()


PAYLOAD = struct.pack("<2f", -0.02, 1.0)

MALFORMED = {
    "part_count": [b"behavior", _header()],
    "topic": [b"behaviour", _header(), PAYLOAD],
    "bad_json": [b"behavior", b"[1, 2", PAYLOAD],
    "unknown_version": [b"behavior", _header(v=2), PAYLOAD],
    "bad_header": [b"behavior", _header(t="soon"), PAYLOAD],
    "bad_fields": [b"behavior", _header(fields=["speed", "curvature"]), PAYLOAD],
    "size_mismatch": [b"behavior", _header(fields=["velocity"]), PAYLOAD],
    "bad_value": [b"behavior", _header(), struct.pack("<2f", -0.02, 0.5)],
}


def test_a_behaviour_sample_round_trips_and_unknown_fields_are_ignored() -> None:
    sample = parse_behavior(encode_behavior(9, 12.5, {"curvature": 3.0, "velocity": -0.125}))
    assert (sample.seq, sample.t, sample.velocity) == (9, 12.5, -0.125)
    assert math.isnan(sample.reversal), "a field not sent is NaN, not a guess"
    lost = parse_behavior(encode_behavior(10, 13.0, {"velocity": math.nan, "reversal": math.nan}))
    assert math.isnan(lost.velocity) and math.isnan(lost.reversal)


@pytest.mark.parametrize("reason", sorted(MALFORMED))
def test_each_malformed_behaviour_kind_is_named(reason: str) -> None:
    assert reason in BEHAVIOR_MALFORMED_REASONS
    with pytest.raises(MalformedMessage) as caught:
        parse_behavior(MALFORMED[reason])
    assert caught.value.reason == reason


def _reference(times: list[float], targets: list[int], t: float, max_age: float) -> int | None:
    """What alignment must give: the latest sample at or before t, if not older than max_age."""
    before = [i for i, ti in enumerate(times) if ti <= t]
    if not before or times[before[-1]] < t - max_age:
        return None
    target = targets[before[-1]]
    return None if target < 0 else target


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(st.floats(0.01, 0.7), min_size=1, max_size=60),
    flags=st.lists(st.sampled_from([0.0, 1.0, math.nan]), min_size=60, max_size=60),
    queries=st.lists(st.floats(-1.0, 25.0), min_size=1, max_size=20),
    capacity=st.integers(4, 64),
)
def test_alignment_never_uses_a_future_or_stale_sample(
    steps: list[float], flags: list[float], queries: list[float], capacity: int
) -> None:
    track = BehaviorTrack(max_age_s=0.5, capacity=capacity)
    times = list(np.cumsum(steps))
    targets = []
    for seq, (t, flag) in enumerate(zip(times, flags, strict=False)):
        track.add(seq, t, math.nan, flag)
        targets.append(-1 if math.isnan(flag) else int(flag))
    kept = max(0, len(times) - capacity)  # older samples have left the bounded ring
    for t in sorted(queries):
        expected = _reference(times[kept:], targets[kept:], t, 0.5)  # no guess at the lost past
        assert track.target_at(t) == expected
    asked = track.frames_aligned + track.frames_missing + track.frames_untracked
    assert asked == len(queries)


def test_velocity_gives_the_target_when_no_reversal_flag_is_sent() -> None:
    track = BehaviorTrack(max_age_s=1.0)
    track.add(0, 10.0, 0.03, math.nan)
    assert track.target_at(10.2) == 0
    track.add(1, 10.5, -0.01, math.nan)
    assert track.target_at(10.6) == 1
    track.add(2, 11.0, math.nan, math.nan)  # the tracker lost the animal
    assert track.target_at(11.1) is None and track.frames_untracked == 1
    assert track.target_at(12.5) is None and track.frames_missing == 1  # 1.5 s old: stale


def test_late_lost_out_of_order_and_restarted_samples_are_counted() -> None:
    track = BehaviorTrack(max_age_s=1.0, uri="test")
    track.add(0, 1.0, 0.02, 0.0)
    assert track.target_at(1.6) == 0
    track.add(1, 1.5, -0.02, 1.0)  # at 1.5 s, but the frame at 1.6 s was already aligned
    assert track.late == 1
    assert track.target_at(1.7) == 1, "a late sample still serves later frames"
    track.add(4, 2.0, -0.02, 1.0)
    assert track.lost == 2
    track.add(5, 1.9, 0.02, 0.0)
    assert track.out_of_order == 1
    assert track.target_at(2.1) == 1, "the out-of-order sample was not used"
    track.add(0, 0.5, 0.02, 0.0)  # seq went back: the tracker restarted on a new clock
    assert track.restarts == 1 and track.late == 1, "a new clock makes nothing late"
    assert track.target_at(0.6) == 0 and track.target_at(0.4) is None
    summary = track.summary()
    assert (summary["samples"], summary["late"], summary["lost"]) == (4, 1, 2)
    assert summary["frames_aligned"] == 4 and summary["frames_missing"] == 1


def test_samples_overwritten_before_they_were_recorded_are_counted() -> None:
    track = BehaviorTrack(capacity=8)
    rows: list[tuple[int, float, float, float]] = []
    track.drain(lambda *row: rows.append(row))
    for seq in range(20):
        track.add(seq, float(seq), 0.0, 0.0)
    assert track.drain(lambda *row: rows.append(row)) == 8
    assert [row[0] for row in rows] == list(range(12, 20)) and track.unrecorded == 12


def test_behaviour_and_frames_share_a_socket_and_bad_behaviour_is_counted() -> None:
    port = free_port()
    producer = zmq.Context.instance().socket(zmq.PUB)
    producer.bind(f"tcp://127.0.0.1:{port}")
    source = open_source(f"zmq+tcp://127.0.0.1:{port}")
    track = BehaviorTrack()
    source.behavior = track
    source.start()
    try:
        time.sleep(0.3)  # let the subscription reach the PUB
        producer.send_multipart(encode_behavior(0, 1.0, {"velocity": -0.02, "reversal": 1}))
        for parts in MALFORMED.values():
            if parts[0] == b"behavior":
                producer.send_multipart(parts)
        producer.send_multipart(encode_frame(0, 1.2, np.ones(3)))
        chunk = source.read(5.0)
        assert chunk is not None and chunk.seq == 0
        assert track.samples == 1 and track.target_at(1.2) == 1
        expected = {r for r, parts in MALFORMED.items() if parts[0] == b"behavior"}
        assert set(track.malformed) == expected and sum(track.malformed.values()) == 7
        assert not source.malformed, "behaviour problems are not frame problems"
    finally:
        source.stop()
        producer.close(linger=0)


def test_without_a_track_behaviour_messages_are_counted_not_read() -> None:
    port = free_port()
    producer = zmq.Context.instance().socket(zmq.PUB)
    producer.bind(f"tcp://127.0.0.1:{port}")
    source = open_source(f"zmq+tcp://127.0.0.1:{port}")
    source.start()
    try:
        time.sleep(0.3)
        producer.send_multipart(encode_behavior(0, 1.0, {"reversal": 0}))
        producer.send_multipart(encode_frame(0, 1.2, np.ones(3)))
        assert source.read(5.0) is not None
        assert source.malformed == {"topic": 1}
    finally:
        source.stop()
        producer.close(linger=0)


@pytest.fixture(scope="module")
def recording() -> Recording:
    whole = bundled_recording()
    n = 80
    return Recording(
        "head", whole.traces[:n], whole.timestamps[:n], whole.labels, whole.reversal[:n],
        whole.velocity[:n],
    )  # fmt: skip


def test_replayed_behaviour_is_recorded_and_aligned_to_every_decoded_frame(
    recording: Recording, tmp_path: Path
) -> None:
    uri = f"zmq+tcp://127.0.0.1:{free_port()}"
    replay = ReplaySource(recording, speed=40.0)
    publisher = ZmqFramePublisher(parse_address(uri), wait_subscribers_s=30.0)
    source = open_source(uri)
    targets: dict[int, int | None] = {}

    def tap(prediction: Prediction, timing: FrameTiming, target: int | None) -> None:
        assert timing.seq == prediction.seq and timing.published_ns >= timing.recv_ns
        targets[prediction.seq] = target

    session = tmp_path / "session.h5"
    live = live_session(
        source,
        WindowMeanEngine(window=8),
        [open_sink(str(session))],
        taps=[tap],
        max_frames=recording.n_frames,
        max_batch=1,
        max_age_s=1.0,
    )
    assert source.behavior is live.streams[0].behavior  # behaviour on the frame socket

    def produce() -> None:
        publisher.open(recording.n_neurons, replay.labels, recording.frame_interval)
        publisher.open_behavior(replay.behavior_fields)
        play(replay, publisher, behavior=True)
        publisher.close()

    sender = threading.Thread(target=produce)
    sender.start()
    summary = live.run()
    sender.join(30)
    assert summary["predictions"] == recording.n_frames - 7
    assert recording.reversal is not None and recording.velocity is not None
    assert targets == {seq: int(recording.reversal[seq]) for seq in range(7, recording.n_frames)}
    behavior = summary["behavior"]
    assert behavior["samples"] == recording.n_frames and behavior["frames_aligned"] == len(targets)
    assert behavior["late"] == behavior["lost"] == behavior["malformed_total"] == 0
    with h5py.File(session) as handle:
        table = {name: handle[f"behavior/{name}"][:] for name in handle["behavior"]}
    np.testing.assert_array_equal(table["seq"], np.arange(recording.n_frames))
    np.testing.assert_array_equal(table["t"], recording.timestamps)
    np.testing.assert_array_equal(table["velocity"], recording.velocity)
    np.testing.assert_array_equal(table["reversal"], recording.reversal)


def test_a_behaviour_socket_of_its_own_counts_whatever_is_not_behaviour() -> None:
    port = free_port()
    producer = zmq.Context.instance().socket(zmq.PUB)
    producer.bind(f"tcp://127.0.0.1:{port}")
    track = BehaviorTrack()
    receiver = BehaviorReceiver(f"zmq+tcp://127.0.0.1:{port}", track)
    receiver.start()
    try:
        time.sleep(0.3)
        producer.send_multipart(encode_behavior(0, 1.0, {"reversal": 1}))
        producer.send_multipart(encode_frame(0, 1.0, np.ones(3)))  # frames belong elsewhere
        producer.send_multipart([b"tracking", b"{}", b""])
        producer.send_multipart(encode_behavior(1, 1.1, {"reversal": 0}))
        deadline = time.monotonic() + 10
        while track.samples < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # the reader moves the source's counts after each read
    finally:
        receiver.stop()
        producer.close(linger=0)
    assert track.samples == 2 and track.target_at(1.2) == 0
    assert track.summary()["malformed"] == {"topic": 2}


@pytest.mark.lsl
def test_an_lsl_behaviour_stream_needs_labelled_channels() -> None:
    pylsl = pytest.importorskip("pylsl")
    name = f"rtdecode-beh-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "Behavior", 2, 20.0, pylsl.cf_float32, name)
    outlet = pylsl.StreamOutlet(info)
    receiver = BehaviorReceiver(f"lsl://{name}", BehaviorTrack(), resolve_timeout=20)
    with pytest.raises(SourceError, match="label them 'velocity'"):
        receiver.start()
    del outlet


def test_replay_behavior_needs_a_recording_with_tracked_behaviour(tmp_path: Path) -> None:
    worm = tmp_path / "untracked.npz"
    whole = bundled_recording()
    np.savez(worm, traces=whole.traces[:20], timestamps=whole.timestamps[:20])
    result = CliRunner().invoke(
        cli, ["replay", str(worm), "--to", f"zmq+tcp://127.0.0.1:{free_port()}", "--behavior"]
    )
    assert result.exit_code == 1
    assert "no tracked behaviour" in result.output and "drop --behavior" in result.output


def test_a_long_behaviour_stream_keeps_memory_flat() -> None:
    track = BehaviorTrack(capacity=256)
    rows = 0

    def record(seq: int, t: float, velocity: float, reversal: float) -> None:
        nonlocal rows
        rows += 1

    def stream(first: int, count: int) -> None:
        for seq in range(first, first + count):
            track.add(seq, seq * 0.01, 0.02, float(seq % 2))
            track.target_at(seq * 0.01 - 0.005)
            if seq % 10 == 0:
                track.drain(record)

    stream(0, 1000)  # fill the ring
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        stream(1000, 50_000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes more after 50,000 samples"
    track.drain(record)
    assert track.unrecorded == 0 and rows == 51_000, "every sample was handed on once"
