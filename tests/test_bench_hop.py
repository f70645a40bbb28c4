"""Producer and consumer processes over real loopback ZMQ: the bare hop the bench reports."""

from __future__ import annotations

import time

import numpy as np
import pytest
import zmq

from rtdecode.bench import Phase
from rtdecode.bench._consumer import consumer_main
from rtdecode.bench._peers import Peer, new_event
from rtdecode.bench._producer import _Streamer, frames_for, producer_main
from rtdecode.bench._results import hop_result
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
        streamer = _Streamer(pub)
        while not sub.poll(50):  # until the subscription has reached the publisher
            streamer.run(302, 100.0, 1, None, 1.0)
        while sub.poll(0):
            sub.recv_multipart()
        first, sent = streamer.run(302, 100.0, 3, None, 5.0)
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
        yield producer, consumer, producer.reply(60.0), ready
    finally:
        producer.close()
        consumer.close()


def test_bare_hop_delivers_every_frame_and_matches_send_times_by_seq(rig) -> None:
    producer, consumer, endpoint, ready = rig
    assert endpoint.startswith("tcp://127.0.0.1:")
    consumer.request(("listen", endpoint, FRAME_TOPIC), 10.0)
    consumer.request(("arm", FRAME_TOPIC, 5), 10.0)
    warm_first, warm_sent = producer.request(("warmup", 150, 200.0, 20.0), 40.0)
    assert ready.is_set(), "the consumer never saw a frame from the producer"
    assert warm_first == 0 and warm_sent.size >= 5
    consumer.request(("collect", FRAME_TOPIC), 10.0)

    first, sent = producer.request(("stream", 150, 500.0, 300), 60.0)
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
    first_302, sent_302 = producer.request(("stream", 302, 1000.0, 50), 60.0)
    assert first_302 == first + 300 and sent_302.size == 50


def test_bench_hop_with_curve_keys_reaches_only_the_keyed_consumer(tmp_path) -> None:
    keys = BenchKeys.make(tmp_path / "keys")
    ready = new_event()
    producer = Peer("producer", producer_main, ready, keys)
    consumer = Peer("consumer", consumer_main, ready, keys)
    stranger = zmq.Context.instance().socket(zmq.SUB)  # no keys: must get nothing
    try:
        endpoint = producer.reply(60.0)
        stranger.setsockopt(zmq.SUBSCRIBE, b"")
        stranger.connect(endpoint)
        consumer.request(("listen", endpoint, FRAME_TOPIC), 10.0)
        consumer.request(("arm", FRAME_TOPIC, 5), 10.0)
        producer.request(("warmup", 150, 200.0, 20.0), 40.0)
        assert ready.is_set(), "the keyed consumer never saw a frame through CURVE"
        consumer.request(("collect", FRAME_TOPIC), 10.0)
        first, _ = producer.request(("stream", 150, 500.0, 100), 60.0)
        time.sleep(0.5)
        seqs, _ = consumer.request(("collect", FRAME_TOPIC), 10.0)
        np.testing.assert_array_equal(seqs[seqs >= first], np.arange(first, first + 100))
        assert not stranger.poll(0), "a subscriber without keys received frames"
    finally:
        stranger.close(0)
        producer.close()
        consumer.close()
