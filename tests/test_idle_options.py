"""Keep-warm passes and CPU pinning: they change no prediction, and bad values are named."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from stream_support import decode

from rtdecode.cli import cli
from rtdecode.data import Recording, bundled_recording
from rtdecode.engines import load_engine
from rtdecode.stream import ReplaySource, open_sink


@pytest.fixture(scope="module")
def recording() -> Recording:
    whole = bundled_recording()
    n = 80
    return Recording(
        id="head",
        traces=whole.traces[:n],
        timestamps=whole.timestamps[:n],
        labels=whole.labels,
        reversal=None,
    )


def _stream(recording: Recording, path: Path, keep_warm_s: float | None) -> dict:
    # 0.6 s frames at 30x: a 20 ms gap between frames, room for idle ticks.
    source = ReplaySource(recording, speed=30.0)
    return decode(
        source,
        load_engine(engine="numba"),
        [open_sink(str(path))],
        keep_warm_ms=None if keep_warm_s is None else keep_warm_s * 1e3,
        max_batch=1,
    )


def test_keep_warm_passes_run_while_idle_and_change_no_prediction(
    recording: Recording, tmp_path: Path
) -> None:
    cold = _stream(recording, tmp_path / "cold.h5", None)
    warm = _stream(recording, tmp_path / "warm.h5", 0.005)
    assert cold["keep_warm_passes"] == 0
    assert warm["keep_warm_passes"] > 0
    assert warm["predictions"] == cold["predictions"] == recording.n_frames - 63
    with h5py.File(tmp_path / "cold.h5") as a, h5py.File(tmp_path / "warm.h5") as b:
        np.testing.assert_array_equal(a["predictions/seq"][:], b["predictions/seq"][:])
        np.testing.assert_array_equal(a["predictions/probs"][:], b["predictions/probs"][:])


def test_run_names_the_cores_it_may_pin_to() -> None:
    bad = max(os.sched_getaffinity(0)) + 1000
    result = CliRunner().invoke(
        cli, ["run", "--source", "zmq+tcp://127.0.0.1:1", "--cpu", str(bad), "--quiet"]
    )
    assert result.exit_code != 0
    assert f"core {bad} is not available" in result.output and "--cpu" in result.output
    assert str(sorted(os.sched_getaffinity(0))) in result.output


def test_run_refuses_a_keep_warm_interval_that_is_not_positive() -> None:
    result = CliRunner().invoke(
        cli, ["run", "--source", "zmq+tcp://127.0.0.1:1", "--keep-warm-ms", "0"]
    )
    assert result.exit_code == 2 and "--keep-warm-ms" in result.output
    # the old spelling still works, with a warning, and its value is checked the same
    result = CliRunner().invoke(
        cli, ["run", "--source", "zmq+tcp://127.0.0.1:1", "--keep-warm", "0"]
    )
    assert (
        result.exit_code != 0 and "--keep-warm is deprecated; use --keep-warm-ms" in result.output
    )
    assert "decoder.keep_warm_ms must be > 0" in result.output
