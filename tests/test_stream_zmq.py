"""The pipeline over real ZeroMQ sockets on loopback: bad input, backpressure, layout changes."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import zmq
from stream_support import WindowMeanEngine, free_port, live_session

from rtdecode.data import bundled_recording
from rtdecode.stream import encode_frame, open_sink, open_source, parse_prediction

W = 8
Send = Callable[[list[bytes]], None]


def run_over_zmq(
    produce: Callable[[Send], int],
    engine: WindowMeanEngine,
    max_batch: int = 1,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Producer PUB -> pipeline (thread) -> PUB sink -> consumer SUB; returns summary and preds.

    ``produce`` sends messages and returns how many valid frames it sent.
    """
    context = zmq.Context.instance()
    frames_port, preds_port = free_port(), free_port()
    producer = context.socket(zmq.XPUB)
    producer.bind(f"tcp://127.0.0.1:{frames_port}")
    source = open_source(f"zmq+tcp://127.0.0.1:{frames_port}")
    sink = open_sink(f"zmq+tcp://127.0.0.1:{preds_port}")
    session = live_session(source, engine, [sink], max_batch=max_batch)
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(session.run()))
    thread.start()
    consumer = context.socket(zmq.SUB)
    consumer.setsockopt(zmq.SUBSCRIBE, b"pred")
    consumer.connect(f"tcp://127.0.0.1:{preds_port}")
    try:
        assert producer.poll(10_000), "the decoder never subscribed"
        producer.recv()
        time.sleep(0.3)  # let the consumer's subscription reach the decoder's PUB
        sent = produce(producer.send_multipart)
        predictions: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until every frame is in and the output is quiet
            if consumer.poll(300):
                predictions.append(parse_prediction(consumer.recv_multipart()))
            elif session.streams[0].frames >= sent:
                break
    finally:
        session.stop()
        thread.join(30)
        producer.close(linger=0)
        consumer.close(linger=0)
    return result, predictions


def recording_frames(count: int) -> np.ndarray:
    return bundled_recording().traces[:count]


MALFORMED_MESSAGES = [
    [b"frame", b"{}"],
    [b"frame", b"{nope", b"\x00" * 8],
    [
        b"frame",
        json.dumps({"v": 9, "seq": 0, "t": 0.0, "shape": [1, 1], "dtype": "<f4"}).encode(),
        b"\x00" * 4,
    ],
    [
        b"frame",
        json.dumps({"v": 1, "seq": 1, "t": 0.0, "shape": [1, 3], "dtype": "<f4"}).encode(),
        b"\x00" * 5,
    ],
    [
        b"frame",
        json.dumps({"v": 1, "seq": 1, "t": 0.0, "shape": [1, 2], "dtype": "<i4"}).encode(),
        b"\x00" * 8,
    ],
    [
        b"frame",
        json.dumps({"v": 1, "seq": 1, "t": 0.0, "shape": [10**9, 10**9], "dtype": "<f4"}).encode(),
        b"",
    ],
    [
        b"frame",
        json.dumps({"v": 1, "t": 0.0, "shape": [1, 1], "dtype": "<f4"}).encode(),
        b"\x00" * 4,
    ],
    [b"hello", b"world", b"!"],
]
MALFORMED_KINDS = [
    "part_count",
    "bad_json",
    "unknown_version",
    "size_mismatch",
    "bad_dtype",
    "bad_shape",
    "bad_header",
    "topic",
]


def test_malformed_messages_change_nothing_but_the_counters() -> None:
    traces = recording_frames(40)
    runs = {}
    for with_garbage in (False, True):

        def produce(send: Send, with_garbage: bool = with_garbage) -> int:
            for seq, frame in enumerate(traces):
                if with_garbage and seq % 4 == 0:
                    send(MALFORMED_MESSAGES[(seq // 4) % len(MALFORMED_MESSAGES)])
                send(encode_frame(seq, seq * 0.6, frame))
            return len(traces)

        summary, predictions = run_over_zmq(produce, WindowMeanEngine(window=W))
        assert summary["frames"] == len(traces)
        assert [p["seq"] for p in predictions] == list(range(W - 1, len(traces)))
        runs[with_garbage] = (summary, [p["probs"] for p in predictions])
    clean, dirty = runs[False], runs[True]
    assert clean[1] == dirty[1], "garbage on the wire changed the predictions"
    expected = {kind: 0 for kind in MALFORMED_KINDS}
    for i in range(0, len(traces), 4):
        expected[MALFORMED_KINDS[(i // 4) % len(MALFORMED_KINDS)]] += 1
    assert dirty[0]["malformed"] == expected and clean[0]["malformed_total"] == 0
    same = {k: v for k, v in clean[0].items() if k not in ("malformed", "malformed_total")}
    for key in ("frames", "predictions", "skipped", "missing_frames", "gaps", "nan_values"):
        assert dirty[0][key] == same[key]


def test_when_behind_the_newest_window_is_decoded_and_the_rest_counted() -> None:
    traces = recording_frames(300)

    class SlowEngine(WindowMeanEngine):
        def infer(self, window: np.ndarray, valid: np.ndarray) -> np.ndarray:
            time.sleep(0.01)  # slower than the producer below
            return super().infer(window, valid)

    def produce(send: Send) -> int:
        for seq, frame in enumerate(traces):
            send(encode_frame(seq, seq * 0.6, frame))
        return len(traces)

    summary, predictions = run_over_zmq(produce, SlowEngine(window=W), max_batch=256)
    assert summary["frames"] == len(traces)
    assert summary["skipped"] > 0
    assert summary["predictions"] + summary["skipped"] + summary["warming"] == len(traces)
    assert predictions[-1]["seq"] == len(traces) - 1, "the newest frame must be decoded"
    assert sum(p.get("skipped", 0) for p in predictions) == summary["skipped"]


def test_a_change_in_neuron_count_resets_window_and_preprocessing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    traces = recording_frames(30)
    engine = WindowMeanEngine(window=W)

    def produce(send: Send) -> int:
        for seq in range(30):
            send(encode_frame(seq, seq * 0.6, traces[seq, :100]))
        for seq in range(30, 60):
            send(encode_frame(seq, seq * 0.6, traces[seq - 30, :90]))
        return 60

    with caplog.at_level(logging.WARNING, logger="rtdecode"):
        summary, predictions = run_over_zmq(produce, engine)
    assert summary["resets"] == 1
    assert [n for n, _, _ in engine.prepared if n == 90], "engine not prepared for 90 neurons"
    assert len(predictions) == 2 * (30 - W + 1)
    assert [p["seq"] for p in predictions][30 - W + 1] == 30 + W - 1
    assert "100 to 90 neurons" in caplog.text
    # After the reset the second half is decoded exactly as a fresh stream would be.
    fresh_engine = WindowMeanEngine(window=W)

    def produce_fresh(send: Send) -> int:
        for seq in range(30):
            send(encode_frame(seq, (seq + 30) * 0.6, traces[seq, :90]))
        return 30

    _, fresh = run_over_zmq(produce_fresh, fresh_engine)
    assert [p["probs"] for p in predictions[30 - W + 1 :]] == [p["probs"] for p in fresh]
