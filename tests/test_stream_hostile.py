"""Hostile input over real ZeroMQ sockets: oversized messages, neuron counts the decoder cannot
serve, absurd ``seq`` values, and no compilation on the live path at the first gap."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import psutil
import pytest
import zmq
from stream_support import WindowMeanEngine, free_port, live_session

from rtdecode.stream import Sink, encode_frame, open_sink, open_source

W = 8
N = 30


def _frames(count: int, n: int = N) -> np.ndarray:
    return np.random.default_rng(count).normal(size=(count, n)).astype(np.float32)


def run_pipeline(
    produce: Callable[[zmq.Socket[bytes]], int],
    engine: WindowMeanEngine,
    extra_sinks: tuple[Sink, ...] = (),
    max_batch: int = 1,
    **options: Any,
) -> dict[str, Any]:
    """Producer XPUB -> ZmqSource -> pipeline (thread) with ``extra_sinks``; returns the summary.

    ``produce`` gets the producer socket (subscribed to) and returns how many frames it sent.
    """
    port = free_port()
    producer: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.XPUB)
    producer.setsockopt(zmq.XPUB_VERBOSE, 1)  # every (re)subscription reaches the producer
    producer.bind(f"tcp://127.0.0.1:{port}")
    source = open_source(f"zmq+tcp://127.0.0.1:{port}")
    session = live_session(source, engine, list(extra_sinks), max_batch=max_batch, **options)
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(session.run()))
    thread.start()
    try:
        assert producer.poll(10_000), "the decoder never subscribed"
        producer.recv()
        sent = produce(producer)
        deadline = time.monotonic() + 30
        while (
            session.streams[0].frames < sent and time.monotonic() < deadline and thread.is_alive()
        ):
            time.sleep(0.05)
    finally:
        session.stop()
        thread.join(30)
        producer.close(linger=0)
    assert result, "the pipeline died"
    return result


def test_an_oversized_message_is_counted_and_the_stream_goes_on() -> None:
    frames = _frames(40)

    def produce(producer: zmq.Socket[bytes]) -> int:
        for seq in range(20):
            producer.send_multipart(encode_frame(seq, seq * 0.6, frames[seq]))
        time.sleep(0.3)
        # 1 MiB of payload (4 frames of 65,536 neurons): ZeroMQ drops the connection.
        producer.send_multipart(encode_frame(20, 12.0, np.zeros((4, 65536), np.float32)))
        while True:  # the decoder's subscription again: it reconnected
            assert producer.poll(10_000), "the decoder never came back"
            if producer.recv() == b"\x01":
                break
        time.sleep(0.2)
        for seq in range(24, 44):
            producer.send_multipart(encode_frame(seq, seq * 0.6, frames[seq - 4]))
        return 40

    summary = run_pipeline(produce, WindowMeanEngine(window=W))
    assert summary["frames"] == 40
    assert summary["malformed"] == {"too_large": 1}
    assert summary["missing_frames"] == 4 and summary["gaps"] == 1


def test_a_frame_with_more_neurons_than_served_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frames = _frames(30)
    engine = WindowMeanEngine(window=W)

    def produce(producer: zmq.Socket[bytes]) -> int:
        time.sleep(0.2)
        for seq in range(30):
            producer.send_multipart(encode_frame(seq, seq * 0.6, frames[seq]))
            if seq == 15:  # 30,000 neurons once needed a 28.8 GB allocation in the GNN
                huge = np.zeros(30_000, np.float32)
                producer.send_multipart(encode_frame(seq + 1, seq * 0.6 + 0.3, huge))
        return 30

    with caplog.at_level(logging.WARNING, logger="rtdecode"):
        summary = run_pipeline(produce, engine)
    assert summary["malformed"] == {"too_many_neurons": 1}
    assert {n for n, _, _ in engine.prepared} == {N}, "the engine was prepared for 30,000"
    assert summary["resets"] == 0 and summary["predictions"] == 30 - W + 1
    assert "30000 neurons" in caplog.text and "--max-neurons" in caplog.text


def test_absurd_seq_values_are_a_restart_or_malformed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frames = _frames(40)
    session = tmp_path / "s.h5"
    far = 10**12

    def produce(producer: zmq.Socket[bytes]) -> int:
        time.sleep(0.2)
        for seq in range(20):
            producer.send_multipart(encode_frame(seq, seq * 0.6, frames[seq]))
        producer.send_multipart(encode_frame(2**63, 12.0, frames[20]))  # not an int64
        producer.send_multipart(encode_frame(2**63 - 1, 12.0, frames[:2]))  # its 2nd is not
        for i in range(20):
            producer.send_multipart(encode_frame(far + i, 12.0 + i * 0.6, frames[20 + i]))
        return 40

    with caplog.at_level(logging.WARNING, logger="rtdecode"):
        summary = run_pipeline(produce, WindowMeanEngine(window=W), (open_sink(str(session)),))
    assert summary["malformed"] == {"bad_header": 1, "bad_shape": 1}
    assert summary["restarts"] == 1 and summary["missing_frames"] == 0
    assert f"seq went from 19 to {far}" in caplog.text
    with h5py.File(session) as handle:
        seqs = handle["frames/seq"][:]
        assert len(seqs) == 40 and seqs[-1] == far + 19
        assert json.loads(handle.attrs["summary"])["restarts"] == 1


def test_when_behind_the_time_of_skipped_frames_is_reported() -> None:
    frames = _frames(200)

    class SlowEngine(WindowMeanEngine):
        def infer(self, window: np.ndarray, valid: np.ndarray) -> np.ndarray:
            time.sleep(0.01)  # slower than the producer below
            return super().infer(window, valid)

    def produce(producer: zmq.Socket[bytes]) -> int:
        time.sleep(0.2)
        for seq, frame in enumerate(frames):
            producer.send_multipart(encode_frame(seq, seq * 0.6, frame))
        return len(frames)

    summary = run_pipeline(produce, SlowEngine(window=W), max_batch=256)
    waited = summary["latency_us"]["skipped"]
    assert summary["skipped"] > 0 and waited["count"] == summary["skipped"]
    assert waited["max"] >= 10_000, "a skipped frame waits at least one inference"


COMPILE_CHECK = """
import numpy as np
import psutil
from rtdecode.kernels.baseline import baseline_step
from rtdecode.kernels.normalize import skew_step, zscore_step
from rtdecode.preprocess import Preprocessor
from rtdecode.stream import encode_frame, parse_frame
from rtdecode.live import Windower
from rtdecode.config import PreprocessConfig
from rtdecode.preprocess import BaselineConfig, BaselineTracker
from rtdecode.live._windower import compile_kernels

def compiled():
    return sum(len(k.signatures) for k in (zscore_step, skew_step, baseline_step))

compile_kernels(PreprocessConfig(), BaselineConfig())  # what the pipeline does before it starts
before = compiled()
for raw in (False, True):
    windower = Windower(8, Preprocessor(5), BaselineTracker(5) if raw else None)
    for seq in (0, 1, 5):  # frames from the wire (read-only views), then a gap of 3 frames
        frame = parse_frame(encode_frame(seq, seq * 0.6, np.ones(5, np.float32))).data[0]
        windower.push(frame, seq, seq * 0.6)
    windower.push(np.ones(5, np.float32), 6, 3.6)  # a writable frame, as LSL and replay give
    assert windower.gaps == 1
    print(compiled() - before)
"""


def test_no_kernel_is_compiled_on_the_live_path() -> None:
    result = subprocess.run(  # a fresh interpreter
        [sys.executable, "-c", COMPILE_CHECK], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "0"], "kernels compiled after the first frame"


def test_big_messages_do_not_pile_up_in_memory_while_the_decoder_is_busy() -> None:
    frames = _frames(10)
    rss: list[int] = []

    class StallingEngine(WindowMeanEngine):
        calls = 0

        def infer(self, window: np.ndarray, valid: np.ndarray) -> np.ndarray:
            StallingEngine.calls += 1
            if StallingEngine.calls == 4:  # the first decode, after three warm-up calls
                time.sleep(2.0)
            return super().infer(window, valid)

    def produce(producer: zmq.Socket[bytes]) -> int:
        time.sleep(0.2)
        for seq in range(W):
            producer.send_multipart(encode_frame(seq, seq * 0.6, frames[seq]))
        time.sleep(0.3)  # the decoder is now inside its 2 s inference
        process = psutil.Process()
        rss.append(process.memory_info().rss)
        big = np.zeros((4, 65536), np.float32)  # 1 MiB each, 300 MiB in all
        for i in range(300):
            producer.send_multipart(encode_frame(W + 4 * i, 10.0 + i, big, dt=0.001))
        for _ in range(10):
            time.sleep(0.1)
            rss.append(process.memory_info().rss)
        while True:  # the decoder's subscription again: it reconnected
            assert producer.poll(10_000), "the decoder never came back"
            if producer.recv() == b"\x01":
                return W

    summary = run_pipeline(produce, StallingEngine(window=W))
    grown = (max(rss) - rss[0]) / 2**20
    assert grown < 64, f"resident memory grew {grown:.0f} MiB while the decoder was busy"
    assert summary["malformed"] == {"too_large": 1}


def test_a_producer_that_goes_away_and_comes_back_is_not_counted_as_malformed() -> None:
    port = free_port()
    source = open_source(f"zmq+tcp://127.0.0.1:{port}")
    session = live_session(source, WindowMeanEngine(window=W), [], max_batch=1)
    thread = threading.Thread(target=session.run)
    thread.start()
    frames = _frames(20)
    try:
        for half in (0, 1):  # the producer (a microscope program) restarts between halves
            producer: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.XPUB)
            producer.bind(f"tcp://127.0.0.1:{port}")
            assert producer.poll(10_000), "the decoder never subscribed"
            producer.recv()
            for seq in range(10 * half, 10 * half + 10):
                producer.send_multipart(encode_frame(seq, seq * 0.6, frames[seq]))
            deadline = time.monotonic() + 30
            while session.streams[0].frames < 10 * half + 10 and time.monotonic() < deadline:
                time.sleep(0.05)
            producer.close(linger=0)
            time.sleep(1.0)  # longer than the source waits before it calls a loss its own
    finally:
        session.stop()
        thread.join(30)
    assert session.streams[0].frames == 20 and dict(source.malformed) == {}
