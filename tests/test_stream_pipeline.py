"""The pipeline on a replayed real recording: streaming equals batch, faults are counted."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest
from stream_support import WindowMeanEngine, decode, free_port, live_session

from rtdecode.data import Recording, bundled_recording
from rtdecode.engines import load_engine
from rtdecode.preprocess import preprocess_traces
from rtdecode.stream import FRAME_COLUMNS, Faults, ReplaySource, open_sink


@pytest.fixture(scope="module")
def recording() -> Recording:
    whole = bundled_recording()
    return Recording(
        id="head",
        traces=whole.traces[:120],
        timestamps=whole.timestamps[:120],
        labels=whole.labels,
        reversal=None if whole.reversal is None else whole.reversal[:120],
    )


def test_streaming_predictions_equal_batch_predictions(
    recording: Recording, tmp_path: Path
) -> None:
    engine = WindowMeanEngine(window=8)
    session = tmp_path / "session.h5"
    source = ReplaySource(recording, speed=float("inf"))
    summary = decode(source, engine, [open_sink(str(session))], max_batch=1)
    assert summary["predictions"] == recording.n_frames - engine.window + 1
    assert summary["skipped"] == 0 and summary["warming"] == engine.window - 1

    features, valid = preprocess_traces(recording.traces, recording.timestamps, engine.preprocess)
    batch_engine = WindowMeanEngine(window=8)
    batch_engine.prepare(*engine.prepared[-1])
    expected = np.stack(
        [
            batch_engine.infer(features[k - 7 : k + 1], valid[k - 7 : k + 1])
            for k in range(7, recording.n_frames)
        ]
    )
    with h5py.File(session) as handle:
        streamed = handle["predictions/probs"][:]
        np.testing.assert_array_equal(
            handle["predictions/seq"][:], np.arange(7, recording.n_frames)
        )
        assert list(handle.attrs["states"]) == ["forward", "reversal"]
        assert set(handle["frames"]) == set(FRAME_COLUMNS)
    np.testing.assert_array_equal(streamed, expected)


def test_the_engine_learns_the_stream_layout(recording: Recording) -> None:
    engine = WindowMeanEngine(window=8)
    decode(ReplaySource(recording, speed=float("inf")), engine, max_batch=1)
    n, labels, interval = engine.prepared[-1]
    assert n == recording.n_neurons and labels == recording.labels
    assert interval == pytest.approx(recording.frame_interval, rel=0.05)


def test_injected_faults_are_counted_not_fatal(recording: Recording, tmp_path: Path) -> None:
    faults = Faults(drop=0.05, nan=0.01, seed=4)
    source = ReplaySource(recording, speed=float("inf"), faults=faults)
    engine = WindowMeanEngine(window=8)
    session = tmp_path / "s.h5"
    summary = decode(source, engine, [open_sink(str(session))], max_batch=1)
    with h5py.File(session) as handle:
        seqs = handle["frames/seq"][:]
    assert source.dropped > 0
    unseen = seqs[0] + recording.n_frames - 1 - seqs[-1]  # lost before the first or after the last
    assert summary["missing_frames"] + unseen == source.dropped
    assert summary["frames"] == recording.n_frames - source.dropped
    assert summary["nan_values"] > 0
    assert summary["predictions"] == summary["frames"] - summary["warming"]


def test_session_file_times_are_ordered(recording: Recording, tmp_path: Path) -> None:
    session = tmp_path / "s.h5"
    source = ReplaySource(recording, speed=float("inf"))
    summary = decode(source, WindowMeanEngine(), [open_sink(str(session))], max_batch=1)
    with h5py.File(session) as handle:
        frames = {name: handle["frames"][name][:] for name in FRAME_COLUMNS}
        assert len(frames["seq"]) == summary["frames"]
        decoded = frames["published_ns"] >= 0
        assert decoded.sum() == summary["predictions"] == len(handle["predictions/seq"])
        assert np.all(frames["preprocessed_ns"] >= frames["recv_ns"])
        assert np.all(frames["inferred_ns"][decoded] >= frames["preprocessed_ns"][decoded])
        assert np.all(frames["published_ns"][decoded] >= frames["inferred_ns"][decoded])
        assert '"predictions"' in handle.attrs["summary"]


def test_the_shipped_model_streams_exactly_as_it_decodes_in_batch(tmp_path: Path) -> None:
    engine = load_engine()
    whole = bundled_recording()
    frames = engine.window + 30
    recording = Recording("head", whole.traces[:frames], whole.timestamps[:frames], whole.labels)
    session = tmp_path / "session.h5"
    source = ReplaySource(recording, speed=float("inf"))
    summary = decode(source, engine, [open_sink(str(session))], max_batch=1)
    assert summary["predictions"] == 31

    batch = load_engine()
    batch.prepare(recording.n_neurons, recording.labels, recording.frame_interval)
    features, valid = preprocess_traces(recording.traces, recording.timestamps, batch.preprocess)
    w = batch.window
    expected = np.stack(
        [
            batch.infer(features[k - w + 1 : k + 1], valid[k - w + 1 : k + 1])
            for k in range(w - 1, frames)
        ]
    )
    with h5py.File(session) as handle:
        streamed = handle["predictions/probs"][:]
    np.testing.assert_allclose(streamed, expected, rtol=1e-5, atol=1e-6)


def test_a_long_session_keeps_no_memory_per_frame(recording: Recording, tmp_path: Path) -> None:
    def session(frames: int) -> int:
        source = ReplaySource(recording, speed=float("inf"), loop=True)
        sinks = [
            open_sink(str(tmp_path / f"s{frames}.h5")),
            open_sink(f"zmq+tcp://127.0.0.1:{free_port()}"),
        ]
        live = live_session(
            source, WindowMeanEngine(window=8), sinks, max_batch=1, max_frames=frames
        )
        tracemalloc.start()
        live.run()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak

    short, long = session(1_000), session(5_000)
    print(short, long)
    assert long - short < 100_000, f"peak traced memory grew {long - short} bytes over 4,000 frames"
