"""LSL in and out, with real outlets and inlets resolved on this machine only."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import numpy as np
import pytest
from stream_support import WindowMeanEngine, live_session

from rtdecode.data import Recording, bundled_recording
from rtdecode.stream import (
    LslFramePublisher,
    ReplaySource,
    open_sink,
    open_source,
    parse_address,
    play,
)

pylsl = pytest.importorskip("pylsl")
pytestmark = pytest.mark.lsl


@pytest.fixture(scope="module")
def recording() -> Recording:
    whole = bundled_recording()
    return Recording("head", whole.traces[:60], whole.timestamps[:60], whole.labels)


def test_a_real_recording_over_lsl_gives_one_prediction_per_frame(recording: Recording) -> None:
    name = f"rtdecode-test-{uuid.uuid4().hex[:8]}"
    publisher = LslFramePublisher(parse_address(f"lsl://{name}"))
    replay = ReplaySource(recording, speed=20.0)
    publisher.open(recording.n_neurons, replay.labels, recording.frame_interval)

    engine = WindowMeanEngine(window=8)
    out_name = f"{name}-out"
    session = live_session(
        open_source(f"lsl://{name}", resolve_timeout=20),
        engine,
        [open_sink(f"lsl://{out_name}", lsl_frame_times=True)],
        max_frames=recording.n_frames,
        max_batch=1,
    )
    result: dict[str, Any] = {}
    decoder = threading.Thread(target=lambda: result.update(session.run()))
    decoder.start()
    streams = pylsl.resolve_byprop("name", out_name, minimum=1, timeout=20)
    assert streams, "the decoder's prediction outlet was not found"
    inlet = pylsl.StreamInlet(streams[0])
    info = inlet.info(timeout=10)
    channel = info.desc().child("channels").child("channel")
    labels = []
    while not channel.empty():
        labels.append(channel.child_value("label"))
        channel = channel.next_sibling("channel")
    assert labels == ["forward", "reversal"] and info.type() == "BehaviorState"
    inlet.open_stream(timeout=10)
    assert publisher.wait_for_consumers(20), "the decoder's inlet never connected"
    sender = threading.Thread(target=play, args=(replay, publisher))
    sender.start()
    sender.join(60)
    decoder.join(60)
    samples, stamps = inlet.pull_chunk(timeout=2.0, max_samples=1000)
    publisher.close()
    assert result["frames"] == recording.n_frames
    assert result["predictions"] == recording.n_frames - 7 == len(samples)
    assert engine.prepared[-1][1] == recording.labels, "neuron labels come from desc/channels"
    probs = np.asarray(samples)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    frame_stamps = publisher._offset + recording.timestamps[7:] - recording.timestamps[0]
    offset = result["source_stats"]["clock_offset_s"]  # LSL's clock correction, applied
    assert abs(offset) < 1e-3, "same machine: the clocks agree to well under a millisecond"
    np.testing.assert_allclose(stamps, frame_stamps + offset, rtol=0, atol=1e-6)
    interval = engine.prepared[-1][2]
    assert interval == pytest.approx(recording.frame_interval, rel=0.05)


def test_a_missing_lsl_stream_is_a_clear_error() -> None:
    from rtdecode.errors import SourceError

    source = open_source("lsl://no-such-stream-here", resolve_timeout=0.5)
    with pytest.raises(SourceError, match="no LSL stream named 'no-such-stream-here'"):
        source.start()


@pytest.mark.parametrize("channel_format", ["cf_double64", "cf_int16"])
def test_any_numeric_lsl_stream_arrives_as_float32_frames(channel_format: str) -> None:
    name = f"rtdecode-fmt-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "EEG", 3, 100.0, getattr(pylsl, channel_format), name)
    outlet = pylsl.StreamOutlet(info)
    source = open_source(f"lsl://{name}", resolve_timeout=20)
    source.start()
    try:
        assert outlet.wait_for_consumers(20)
        sent = np.array([[1, 2, 3], [4, 5, 6], [-7, 8, 9]])
        for i, row in enumerate(sent):
            outlet.push_sample(row.tolist(), 100.0 + 0.5 * i)
        received, times = [], []
        while len(received) < len(sent):
            chunk = source.read(5.0)
            assert chunk is not None, "samples did not arrive"
            assert chunk.data.dtype == np.float32 and chunk.labels is None
            received.extend(chunk.data.copy())
            times.extend(chunk.t)
        np.testing.assert_array_equal(np.array(received), sent)
        np.testing.assert_allclose(np.diff(times), 0.5, atol=1e-6)
    finally:
        source.stop()
