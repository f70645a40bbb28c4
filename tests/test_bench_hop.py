"""Producer and consumer processes over real loopback ZMQ: the bare hop the bench reports."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from rtdecode.bench import Phase
from rtdecode.bench._consumer import consumer_main
from rtdecode.bench._peers import Peer, new_event
from rtdecode.bench._producer import (
    SEQ_STRIDE,
    _Streamer,
    frames_for,
    producer_main,
    stream_schedule,
)
from rtdecode.bench._results import hop_result
from rtdecode.bench._runner import _Rig
from rtdecode.bench._settings import BenchSettings
from rtdecode.bench._wire import FRAME_TOPIC, BenchKeys
from rtdecode.data import bundled_recording
from rtdecode.stream import parse_frame


def test_frames_are_the_real_recording_repeated_to_the_neuron_count() -> None:
    traces = bundled_recording().traces
    frames = frames_for(302)
    assert frames.shape == (traces.shape[0], 302) and frames.dtype == np.float32
    np.testing.assert_array_equal(frames[:, : traces.shape[1]], traces)
    np.testing.assert_array_equal(frames[:, traces.shape[1]], traces[:, 0])


def test_producer_frames_parse_with_the_decoders_protocol_parser() -> None:
    context = zmq.Context()
    pub, sub = context.socket(zmq.PUB), context.socket(zmq.SUB)
    try:
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        sub.connect(f"tcp://127.0.0.1:{port}")
        sub.setsockopt(zmq.SUBSCRIBE, FRAME_TOPIC)
        streamer = _Streamer([pub])
        while not sub.poll(50):  # until the subscription has reached the publisher
            streamer.run(302, 100.0, 1, None, 1.0)
        while sub.poll(0):
            sub.recv_multipart()
        first, (sent,) = streamer.run(302, 100.0, 3, None, 5.0)
        for i in range(3):
            assert sub.poll(5000)
            message = parse_frame(sub.recv_multipart())
            assert message.seq == first + i
            assert message.sent_ns == sent[i]
            assert message.t == pytest.approx((first + i) / 100.0)
            np.testing.assert_array_equal(message.data[0], frames_for(302)[first + i])
    finally:
        pub.close(0)
        sub.close(0)
        context.term()


@pytest.fixture
def rig():
    ready = new_event()
    producer = Peer("producer", producer_main, ready)
    consumer = Peer("consumer", consumer_main, ready)
    try:
        (endpoint,) = producer.reply(60.0)
        yield producer, consumer, endpoint, ready
    finally:
        producer.close()
        consumer.close()


def test_bare_hop_delivers_every_frame_and_matches_send_times_by_seq(rig) -> None:
    producer, consumer, endpoint, ready = rig
    assert endpoint.startswith("tcp://127.0.0.1:")
    consumer.request(("listen", endpoint, FRAME_TOPIC), 10.0)
    consumer.request(("arm", FRAME_TOPIC, 5), 10.0)
    warm_first, (warm_sent,) = producer.request(("warmup", 150, 200.0, 20.0, 1), 40.0)
    assert ready.is_set(), "the consumer never saw a frame from the producer"
    assert warm_first == 0 and warm_sent.size >= 5
    consumer.request(("collect", FRAME_TOPIC), 10.0)

    first, (sent,) = producer.request(("stream", 150, 500.0, 300, 1, "locked"), 60.0)
    assert first == warm_sent.size  # sequence numbers continue across phases
    assert sent.size == 300 and np.all(np.diff(sent) > 0)
    time.sleep(0.5)
    seqs, received = consumer.request(("collect", FRAME_TOPIC), 10.0)
    in_phase = seqs[seqs >= first]
    np.testing.assert_array_equal(in_phase, np.arange(first, first + 300))

    phase = Phase(first, sent, seqs, received)
    latencies = phase.latencies_ns()
    assert latencies.size == 300 and np.all(latencies > 0)
    result = hop_result(150, 500.0, phase)
    assert result["received"] == result["frames_sent"] == 300
    assert result["latency_us"]["count"] == 300
    assert (
        0
        < result["latency_us"]["p50"]
        <= result["latency_us"]["p99"]
        <= result["latency_us"]["max"]
    )
    assert result["achieved_rate_hz"] > 0

    # a stream of another neuron count on the same sockets keeps numbering
    first_302, (sent_302,) = producer.request(("stream", 302, 1000.0, 50, 1, "locked"), 60.0)
    assert first_302 == first + 300 and sent_302.size == 50


def test_bench_hop_with_curve_keys_reaches_only_the_keyed_consumer(tmp_path) -> None:
    keys = BenchKeys.make(tmp_path / "keys")
    ready = new_event()
    producer = Peer("producer", producer_main, ready, keys)
    consumer = Peer("consumer", consumer_main, ready, keys)
    stranger = zmq.Context.instance().socket(zmq.SUB)  # no keys: must get nothing
    try:
        (endpoint,) = producer.reply(60.0)
        stranger.setsockopt(zmq.SUBSCRIBE, b"")
        stranger.connect(endpoint)
        consumer.request(("listen", endpoint, FRAME_TOPIC), 10.0)
        consumer.request(("arm", FRAME_TOPIC, 5), 10.0)
        producer.request(("warmup", 150, 200.0, 20.0, 1), 40.0)
        assert ready.is_set(), "the keyed consumer never saw a frame through CURVE"
        consumer.request(("collect", FRAME_TOPIC), 10.0)
        first, _ = producer.request(("stream", 150, 500.0, 100, 1, "locked"), 60.0)
        time.sleep(0.5)
        seqs, _ = consumer.request(("collect", FRAME_TOPIC), 10.0)
        np.testing.assert_array_equal(seqs[seqs >= first], np.arange(first, first + 100))
        assert not stranger.poll(0), "a subscriber without keys received frames"
    finally:
        stranger.close(0)
        producer.close()
        consumer.close()


def test_stream_schedule_locks_or_spreads_the_streams_over_a_period() -> None:
    np.testing.assert_array_equal(stream_schedule(4, 100_000_000, "locked"), [0, 0, 0, 0])
    np.testing.assert_array_equal(
        stream_schedule(4, 100_000_000, "staggered"), [0, 25_000_000, 50_000_000, 75_000_000]
    )
    with pytest.raises(ValueError, match="staggered"):
        stream_schedule(2, 1000, "random")


@pytest.mark.parametrize("phase", ["locked", "staggered"])
def test_several_streams_each_deliver_every_frame_on_their_own_socket_and_seqs(phase) -> None:
    streams, rate, frames = 3, 50.0, 40
    ready = new_event()
    producer = Peer("producer", producer_main, ready, None, streams)
    consumer = Peer("consumer", consumer_main, ready)
    try:
        endpoints = producer.reply(60.0)
        assert len(set(endpoints)) == streams
        for endpoint in endpoints:
            consumer.request(("listen", endpoint, FRAME_TOPIC), 10.0)
        consumer.request(("arm", FRAME_TOPIC, 5, streams), 10.0)
        producer.request(("warmup", 150, 200.0, 20.0, streams), 40.0)
        assert ready.is_set(), "the consumer never saw the streams' frames"
        time.sleep(0.3)
        consumer.request(("collect", FRAME_TOPIC), 10.0)
        asked_ns = time.perf_counter_ns()  # CLOCK_MONOTONIC: the producer's clock too
        first, sent = producer.request(("stream", 150, rate, frames, streams, phase), 60.0)
        assert sent.shape == (streams, frames)
        time.sleep(0.5)
        seqs, received = consumer.request(("collect", FRAME_TOPIC), 10.0)
    finally:
        producer.close()
        consumer.close()
    for k in range(streams):  # each stream numbers its own frames, and all of them arrived
        phase_k = Phase(k * SEQ_STRIDE + first, sent[k], seqs, received)
        assert phase_k.latencies_ns().size == frames
    # No frame leaves before its slot: period i, plus the stream's offset within the period
    # (stream_schedule, checked above), counted from before the command was sent. An upper bound
    # would be a wall-clock limit that a loaded machine breaks; how late frames leave is the
    # bench's measurement, not this test's.
    period_ns = round(1e9 / rate)
    slots = np.arange(frames) * period_ns + stream_schedule(streams, period_ns, phase)[:, None]
    assert np.all(sent - asked_ns >= slots)
    # within a period the streams send in order, and a period ends before the next begins
    order = sent.T.ravel()  # period 0 streams 0..K-1, period 1 streams 0..K-1, ...
    assert np.all(np.diff(order) >= 0)


@pytest.mark.timeout(120)
def test_with_cpu_the_producer_and_consumer_leave_the_decoders_core_alone(
    tmp_path: Path,
) -> None:
    usable = os.sched_getaffinity(0)
    if len(usable) < 2:
        pytest.skip("needs two usable cores")
    core = max(usable)
    rig = _Rig(BenchSettings(cpu=core), lambda _: None, tmp_path)
    try:
        for peer in (rig.producer, rig.consumer):
            assert os.sched_getaffinity(peer._process.pid) == usable - {core}
    finally:
        rig.close()
