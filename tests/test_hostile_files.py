"""Hostile files and arguments get a message naming the thing and the fix, never a traceback."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from rtdecode.cli import cli
from rtdecode.data import Recording, bundled_recording, read_flavell_h5, write_npz
from rtdecode.errors import DataFormatError, SourceError
from rtdecode.preprocess import PreprocessConfig
from rtdecode.stream import parse_address
from rtdecode.training._dataset import prepare_recording
from rtdecode.training._evaluate import recording_metrics, summarise

T, N = 20, 5


def _write_h5(path: Path, **replace: object) -> Path:
    arrays: dict[str, object] = {
        "gcamp/trace_array_original": np.random.default_rng(0).random((T, N)),
        "timing/timestamp_confocal": np.arange(T) * 0.6,
        "behavior/reversal_vec": np.zeros(T, dtype=np.int64),
        "gcamp/idx_splits": np.array([[1], [T]]),
    }
    arrays.update(replace)
    with h5py.File(path, "w") as handle:
        for key, value in arrays.items():
            if isinstance(value, str):
                handle.create_group(key)
            elif value is not None:
                handle[key] = value
    return path


def _no_traceback(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return str(result.output)


def test_a_group_where_a_dataset_belongs_is_named(tmp_path: Path) -> None:
    path = _write_h5(tmp_path / "w-data.h5", **{"gcamp/trace_array_original": "group"})
    with pytest.raises(DataFormatError, match=r"'gcamp/trace_array_original' is an HDF5 group"):
        read_flavell_h5(path)


@pytest.mark.parametrize("splits", [np.array([1, 10, 20]), np.array([[1], [30]])])
def test_bad_idx_splits_are_named(tmp_path: Path, splits: np.ndarray) -> None:
    path = _write_h5(tmp_path / "w-data.h5", **{"gcamp/idx_splits": splits})
    with pytest.raises(DataFormatError, match=r"idx_splits"):
        read_flavell_h5(path)


def test_non_numeric_traces_are_named(tmp_path: Path) -> None:
    words = np.array([[b"abc"] * N] * T)
    path = _write_h5(tmp_path / "w-data.h5", **{"gcamp/trace_array_original": words})
    with pytest.raises(DataFormatError, match=r"traces.*not numbers"):
        read_flavell_h5(path)
    with pytest.raises(DataFormatError, match=r"timestamps.*not numbers"):
        Recording("x", np.zeros((2, 1)), np.array(["a", "b"]), (None,))


def _labels(tmp_path: Path, text: str, encoding: str) -> Path:
    path = _write_h5(tmp_path / "w-data.h5")
    (tmp_path / "w.csv").write_bytes(text.encode(encoding))
    return path


def test_labels_csv_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    rows = "trace_index,label\n" + "".join(f"{i},AVAL\n" for i in range(N))
    path = _labels(tmp_path, rows, "utf-8-sig")
    assert read_flavell_h5(path).labels == ("AVAL",) * N


def test_labels_csv_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    rows = "trace_index,label\n" + "".join(f"{i},AVAL\u00e9\n" for i in range(N))
    path = _labels(tmp_path, rows, "utf-16")
    with pytest.raises(DataFormatError, match=r"w\.csv is not UTF-8 text.*save it as"):
        read_flavell_h5(path)


def test_duplicate_trace_index_rows_are_refused(tmp_path: Path) -> None:
    rows = "trace_index,label\n" + "".join(f"{min(i, 3)},AVAL\n" for i in range(N))
    path = _labels(tmp_path, rows, "utf-8")
    with pytest.raises(DataFormatError, match=r"trace_index 3 appears twice"):
        read_flavell_h5(path)


def test_nan_in_reversal_is_refused(tmp_path: Path) -> None:
    reversal = np.zeros(T)
    reversal[4] = np.nan
    path = _write_h5(tmp_path / "w-data.h5", **{"behavior/reversal_vec": reversal})
    with pytest.raises(DataFormatError, match=r"reversal has 1 non-finite value"):
        read_flavell_h5(path)


def test_more_timestamps_than_frames_keeps_the_first_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    times = np.linspace(0.0, 0.6 * (2 * T - 1), 2 * T)
    path = _write_h5(tmp_path / "w-data.h5", **{"timing/timestamp_confocal": times})
    with caplog.at_level(logging.WARNING, logger="rtdecode"):
        rec = read_flavell_h5(path)
    np.testing.assert_array_equal(rec.timestamps, times[:T])
    assert "40 entries for 20 frames" in caplog.text


def test_eval_scores_every_readable_file_and_lists_the_others(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    whole = bundled_recording()
    good = Recording("good", whole.traces[:300], whole.timestamps[:300], whole.labels,
                     reversal=whole.reversal[:300])  # fmt: skip
    write_npz(good, data / "good.npz")
    (data / "broken.npz").write_bytes(b"not a zip file")
    _write_h5(data / "grouped-data.h5", **{"gcamp/trace_array_original": "group"})
    report = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["eval", "--data", str(data), "--json", str(report)])
    out = _no_traceback(result)
    assert result.exit_code == 1
    doc = json.loads(report.read_text())
    assert [e["id"] for e in doc["recordings"]] == ["good"]
    assert doc["mean_balanced_accuracy"] is not None
    failed = {Path(f["path"]).name: f["error"] for f in doc["unreadable"]}
    assert set(failed) == {"broken.npz", "grouped-data.h5"}
    assert "is an HDF5 group" in failed["grouped-data.h5"]
    assert (
        "broken.npz" in out
        and "grouped-data.h5" in out
        and "2 files could not be read (left out)" in out
    )


def test_lowo_on_one_recording_says_it_needs_two(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    whole = bundled_recording()
    write_npz(whole, data / "one.npz")
    result = CliRunner().invoke(cli, ["eval", "--data", str(data), "--protocol", "lowo"])
    out = _no_traceback(result)
    assert result.exit_code != 0 and "at least two" in out


def test_a_recording_with_no_scored_frame_is_not_averaged() -> None:
    whole = bundled_recording()
    prepared = [
        prepare_recording(
            Recording(
                rid,
                whole.traces[:60],
                whole.timestamps[:60],
                whole.labels,
                reversal=whole.reversal[:60],
            ),
            PreprocessConfig(),
        )
        for rid in ("scored", "empty")
    ]
    frames = np.arange(10, 60)
    probs = prepared[0].reversal[frames].astype(np.float32)
    entries = [
        recording_metrics(prepared[0], frames, probs),
        recording_metrics(prepared[1], frames[:0], probs[:0]),
    ]
    assert entries[1]["frames"] == 0 and entries[1]["f1"] is None
    report = summarise(entries)
    assert report["mean_f1"] == entries[0]["f1"]
    assert report["unscored"] == ["empty"]


def test_convert_into_a_path_that_cannot_be_written(tmp_path: Path) -> None:
    source = write_npz(bundled_recording(), tmp_path / "w.npz")
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(cli, ["convert", str(source), str(tmp_path / "file" / "out.npz")])
    out = _no_traceback(result)
    assert result.exit_code == 1 and "cannot write" in out and "out.npz" in out


def test_a_text_file_as_model_is_named(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    result = CliRunner().invoke(
        cli, ["export", "--model", str(text), "--out", str(tmp_path / "m.onnx")]
    )
    out = _no_traceback(result)
    assert result.exit_code != 0 and "is not a readable rtdecode model" in out


@pytest.mark.parametrize("port", ["99999", "-5", "0", "x"])
def test_ports_out_of_range_are_named(port: str) -> None:
    with pytest.raises(SourceError, match=r"port must be a whole number from 1 to 65535"):
        parse_address(f"zmq+tcp://127.0.0.1:{port}")
