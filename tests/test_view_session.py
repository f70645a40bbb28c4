"""A session file keeps the activity ``rtdecode view SESSION.h5`` replays: real decode runs
write it (also across a neuron layout change), and the session's page state has the raster,
the manifold fitted on the frames up to the slider's time, and the model's own edges for the
window ending there; a file without activity still opens, and ``rtdecode report`` reads both."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from stream_support import WindowMeanEngine, decode

from rtdecode.cli import cli
from rtdecode.data import bundled_recording
from rtdecode.engines import load_engine
from rtdecode.preprocess import preprocess_traces
from rtdecode.stream import Chunk, ReplaySource, SessionFile, Source, read_activity, read_session
from rtdecode.view import _recorded as recorded
from rtdecode.view._edges import EdgeModule, top_edges
from rtdecode.view._intake import read_session_states
from rtdecode.view._manifold import IncrementalPCA

pytestmark = pytest.mark.timeout(180)


def test_a_decoded_session_keeps_each_published_row_and_its_page_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording, engine, path = bundled_recording(), load_engine(), tmp_path / "s.h5"
    replay = ReplaySource(recording, speed=math.inf)
    summary = decode(replay, engine, [SessionFile(path)], max_frames=200, max_batch=1)
    activity = read_activity(path)
    assert activity is not None
    seq = read_session(path).predictions["seq"]
    assert len(activity) == summary["predictions"] == len(seq) > 100
    np.testing.assert_array_equal(activity.seq, seq)  # one row per published frame
    (layout,) = activity.layouts
    assert layout.n == recording.n_neurons and layout.window == engine.window
    assert layout.labels == tuple(recording.labels)
    # the decoder's own rows, as the offline preprocessing computes them for the same frames
    features, valid = preprocess_traces(recording.traces, recording.timestamps, engine.preprocess)
    rows, mask = activity.rows(0, len(activity))
    np.testing.assert_allclose(rows, features[seq], atol=1e-5)
    np.testing.assert_array_equal(mask, valid[seq])

    monkeypatch.setattr(recorded, "_BATCH", 16)  # the manifold's checkpoints, every 16 frames
    state = read_session_states(path)
    assert state.edge_error == "" and state.t0 is not None
    image, _, last = state.raster_image()  # type: ignore[misc]
    assert image.shape[0] == recording.n_neurons
    assert last == pytest.approx(activity.t[-1] - state.t0)
    assert state.manifold() is not None
    # The graph at the slider's time: the network's edges for the window ending there.
    middle = len(seq) // 2 + 10
    state.seek(float(activity.t[middle] - state.t0))
    job = state.edge_job()
    assert job is not None
    job()
    assert state.edges is not None
    w = engine.window
    window_seq = seq[middle + 1 - w : middle + 1]
    module = EdgeModule(
        None, w, recording.n_neurons, recording.labels,
        float(np.median(np.diff(recording.timestamps[window_seq]))),
    )  # fmt: skip
    weights, _ = module(features[window_seq], valid[window_seq])
    expected = top_edges(weights, 40)
    for got, want in zip(state.edges, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5)
    # The manifold there is fitted on the frames up to that time only, in order (back in time
    # from a checkpoint of the fit: the same numbers).
    assert state.pca is not None and state.pca.count == middle + 1
    replayed = IncrementalPCA(recording.n_neurons)  # the live view's fit, row by row
    for row in rows[: middle + 1, :, 0]:
        replayed.update(row.astype(np.float64))
    np.testing.assert_allclose(state.pca.mean, replayed.mean, atol=1e-12)
    np.testing.assert_allclose(state.pca._scatter, replayed._scatter, atol=1e-9)
    shown = state.manifold()
    assert shown is not None and shown[2].max() == activity.t[middle]


class _TwoLayouts(Source):
    """The bundled recording's frames, 130 neurons then 50: the layout changes mid-run."""

    uri = "two-layouts"

    def __init__(self, switch: int, frames: int) -> None:
        super().__init__()
        self._traces = bundled_recording().traces
        self._switch, self._frames, self._next = switch, frames, 0

    def start(self) -> None:
        self._next = 0

    def read(self, timeout: float) -> Chunk | None:
        if self.finished:
            return None
        i, self._next = self._next, self._next + 1
        row = self._traces[i] if i < self._switch else self._traces[i, :50]
        return Chunk(
            row[None, :].astype(np.float32), i, np.array([0.6 * i]), time.perf_counter_ns()
        )

    def stop(self) -> None:
        self._next = self._frames

    @property
    def finished(self) -> bool:
        return self._next >= self._frames


def test_a_layout_change_is_kept_and_a_file_without_activity_still_opens(tmp_path: Path) -> None:
    kept, bare = tmp_path / "kept.h5", tmp_path / "bare.h5"
    sinks = [SessionFile(kept), SessionFile(bare, activity=False)]
    decode(_TwoLayouts(40, 90), WindowMeanEngine(window=8), sinks, max_batch=1)
    activity = read_activity(kept)
    assert activity is not None
    assert [(g.row, g.n, g.window) for g in activity.layouts] == [(0, 130, 8), (33, 50, 8)]
    assert len(activity) == 33 + 43
    rows, _ = activity.rows(33, len(activity))
    assert rows.shape == (43, 50, 3)
    with pytest.raises(ValueError, match="one layout"):
        activity.rows(30, 40)
    state = read_session_states(kept)
    assert state.raster_image()[0].shape[0] == 50  # type: ignore[index]
    state.seek(float(activity.t[20] - activity.t[0]))
    assert state.raster_image()[0].shape[0] == 130  # type: ignore[index]
    assert state.manifold() is not None and state.edge_job() is not None
    # Without activity (an older file, or --no-session-activity): the rest, and why no graph.
    assert read_activity(bare) is None
    old = read_session_states(bare)
    assert "keeps no activity" in old.edge_error and old.raster_image() is None
    assert old.trace.total == state.trace.total == 76
    for name, table in read_session(bare).__dict__.items():
        if isinstance(table, dict) and name != "attrs":
            assert table.keys() == getattr(read_session(kept), name).keys()
    for path in (kept, bare):
        result = CliRunner().invoke(cli, ["report", str(path), "--out", str(tmp_path / "r.html")])
        assert result.exit_code == 0, result.output
