"""Duplicated and reordered frames, as a real network and a retransmitting producer deliver
them: over a real ZeroMQ socket into the live pipeline, and at the windower itself.

A repeated ``seq`` (a retransmit) or two swapped frames are no producer restart: duplicates
and late frames are dropped and counted, never decoded out of order; only a jump backwards
by more than a window resets.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import zmq
from stream_support import WindowMeanEngine
from test_stream_hostile import N, W, _frames, run_pipeline

from rtdecode.live import Windower
from rtdecode.preprocess import Preprocessor
from rtdecode.stream import Prediction, Sink, encode_frame


class _Seqs(Sink):
    """The seq of every published prediction, in the order published."""

    uri = "memory"

    def __init__(self) -> None:
        self.seqs: list[int] = []

    def open(self, states: tuple[str, ...]) -> None:
        pass

    def publish(self, prediction: Prediction) -> None:
        self.seqs.append(prediction.seq)


def test_one_duplicate_in_ten_frames_is_dropped_not_a_restart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frames = _frames(100)
    sink = _Seqs()

    def produce(producer: zmq.Socket[bytes]) -> int:
        for seq in range(100):
            producer.send_multipart(encode_frame(seq, seq * 0.6, frames[seq]))
            if seq % 10 == 9:  # the producer retransmits every tenth frame
                producer.send_multipart(encode_frame(seq, seq * 0.6, frames[seq]))
        return 100

    with caplog.at_level(logging.WARNING, logger="rtdecode"):
        summary = run_pipeline(produce, WindowMeanEngine(window=W), (sink,))
    assert summary["restarts"] == 0 and summary["resets"] == 0
    assert summary["duplicates"] == 10 and summary["frames"] == 100
    assert summary["predictions"] == 100 - W + 1  # before: 0, the window reset every time
    assert sink.seqs == sorted(sink.seqs) and len(set(sink.seqs)) == len(sink.seqs)
    assert "arrived again (a retransmit" in caplog.text and "restarted" not in caplog.text


def test_two_swapped_frames_are_one_late_frame_not_two_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frames = _frames(60)
    order = list(range(60))
    order[30], order[31] = 31, 30  # swapped on the way
    sink = _Seqs()

    def produce(producer: zmq.Socket[bytes]) -> int:
        for seq in order:
            producer.send_multipart(encode_frame(seq, seq * 0.6, frames[seq]))
        return 59  # frame 30 arrives too late to be decoded

    with caplog.at_level(logging.WARNING, logger="rtdecode"):
        summary = run_pipeline(produce, WindowMeanEngine(window=W), (sink,))
    assert summary["restarts"] == 0 and summary["late"] == 1
    assert summary["missing_frames"] == 0  # before: 2 "lost" frames per swap
    assert 30 not in sink.seqs and sink.seqs == sorted(sink.seqs)  # never out of order
    assert "arrived after seq 31 (reordered" in caplog.text


def test_only_a_jump_back_beyond_the_window_is_a_restart() -> None:
    frames = _frames(40)
    windower = Windower(W, Preprocessor(N))
    for seq in range(20):
        assert windower.push(frames[seq], seq, seq * 0.6)
    assert not windower.push(frames[0], 19 - W + 1, 20.0)  # W-1 back: seen, a duplicate
    assert windower.duplicates == 1 and windower.restarts == 0 and windower.filled
    assert windower.push(frames[1], 19 - W, 20.0)  # W back: a restart
    assert windower.restarts == 1 and not windower.filled


def test_a_duplicate_leaves_the_window_exactly_as_without_it() -> None:
    frames = _frames(30)
    clean, noisy = Windower(W, Preprocessor(N)), Windower(W, Preprocessor(N))
    for seq in range(30):
        clean.push(frames[seq], seq, seq * 0.6)
        noisy.push(frames[seq], seq, seq * 0.6)
        noisy.push(frames[seq] + 5.0, seq, seq * 0.6)  # a retransmit with other values
    np.testing.assert_array_equal(clean.window_view()[0], noisy.window_view()[0])
    np.testing.assert_array_equal(clean.window_view()[1], noisy.window_view()[1])


class _Uncertain(Sink):
    """Whether each published prediction was ``uncertain``, by seq."""

    uri = "memory"

    def __init__(self) -> None:
        self.by_seq: dict[int, bool] = {}

    def open(self, states: tuple[str, ...]) -> None:
        pass

    def publish(self, prediction: Prediction) -> None:
        self.by_seq[prediction.seq] = prediction.uncertain


def test_a_mostly_missing_frame_is_uncertain_from_the_first_one() -> None:
    frames = _frames(60)
    frames[30:46] = np.nan  # 16 frames with every value missing
    frames[50, : N // 2 + 2] = np.nan  # one frame with more than half its values missing
    sink = _Uncertain()

    def produce(producer: zmq.Socket[bytes]) -> int:
        for seq in range(60):
            producer.send_multipart(encode_frame(seq, seq * 0.6, frames[seq]))
        return 60

    run_pipeline(produce, WindowMeanEngine(window=W), (sink,), abstain=None)
    assert all(sink.by_seq[seq] for seq in range(30, 46))  # before: the first 2 were confident
    assert sink.by_seq[50]
    assert not any(sink.by_seq[seq] for seq in range(W, 30))  # healthy input: confident


def test_frame_times_that_stop_increasing_are_counted_warned_once_and_uncertain(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frames = _frames(80)
    times = np.arange(80) * 0.6
    times[40:50] = times[39] - 0.1 * np.arange(10)  # the clock stalls, then runs backwards
    times[50:] = times[39] + 0.6 * np.arange(1, 31)  # and recovers
    sink = _Uncertain()

    def produce(producer: zmq.Socket[bytes]) -> int:
        for seq in range(80):
            producer.send_multipart(encode_frame(seq, float(times[seq]), frames[seq]))
        return 80

    with caplog.at_level(logging.WARNING, logger="rtdecode"):
        summary = run_pipeline(produce, WindowMeanEngine(window=W), (sink,), abstain=None)
    assert summary["time_backwards"] == 10
    assert caplog.text.count("not after the frame before") == 1  # once for the episode
    assert all(sink.by_seq[seq] for seq in range(40, 49 + W))  # while a bad time is in view
    assert not any(sink.by_seq[seq] for seq in range(49 + W, 80))  # then confident again
    assert not any(sink.by_seq[seq] for seq in range(W, 40))


def test_a_layout_flipping_every_frame_is_warned_rate_limited_and_diagnosed_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frames = _frames(200, N + 1)

    def produce(producer: zmq.Socket[bytes]) -> int:
        for seq in range(200):  # two producers' neuron counts interleaved on one socket
            n = N if seq % 2 else N + 1
            producer.send_multipart(encode_frame(seq, seq * 0.6, frames[seq, :n]))
        return 200

    with caplog.at_level(logging.WARNING, logger="rtdecode"):
        summary = run_pipeline(produce, WindowMeanEngine(window=W), ())
    assert summary["resets"] == 199 and summary["predictions"] == 0
    assert caplog.text.count("stream layout changed") <= 3  # before: 199 lines
    assert caplog.text.count("different neuron counts or label lists") == 1
