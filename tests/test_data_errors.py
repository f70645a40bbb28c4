"""Every bad recording a lab can hand us gets an error that names the file, the key and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from rtdecode.data import (
    Recording,
    discover_recordings,
    load_recording,
    read_flavell_h5,
    read_npz,
    write_npz,
)
from rtdecode.errors import DataFormatError

T, N = 20, 5


def _write_h5(path: Path, *, drop: str | None = None, timestamps: int = T) -> Path:
    with h5py.File(path, "w") as handle:
        arrays = {
            "gcamp/trace_array_original": np.random.default_rng(0).random((T, N)),
            "timing/timestamp_confocal": np.arange(timestamps) * 0.6,
            "behavior/reversal_vec": np.zeros(T, dtype=np.int64),
            "behavior/velocity": np.ones(T),
        }
        for key, value in arrays.items():
            if key != drop:
                handle[key] = value
    return path


def _write_labels(path: Path, rows: int) -> Path:
    lines = ["trace_index,label,confidence"] + [f"{i},AVAL,4.0" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope-data.h5"
    with pytest.raises(DataFormatError, match=r"nope-data\.h5 does not exist; check the path"):
        load_recording(missing)


def test_truncated_hdf5_says_copy_again(tmp_path: Path) -> None:
    good = _write_h5(tmp_path / "good-data.h5")
    truncated = tmp_path / "cut-data.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataFormatError, match=r"cut-data\.h5.*(truncated|corrupt).*checksum"):
        read_flavell_h5(truncated)


def test_corrupt_hdf5_says_not_hdf5(tmp_path: Path) -> None:
    junk = tmp_path / "junk-data.h5"
    junk.write_bytes(b"this is not an HDF5 file" * 100)
    with pytest.raises(DataFormatError, match=r"junk-data\.h5 is not a readable HDF5 file"):
        read_flavell_h5(junk)


@pytest.mark.parametrize("key", ["gcamp/trace_array_original", "timing/timestamp_confocal"])
def test_missing_key_is_named(tmp_path: Path, key: str) -> None:
    path = _write_h5(tmp_path / "partial-data.h5", drop=key)
    with pytest.raises(DataFormatError, match=f"key '{key}' is missing.*rtdecode convert"):
        read_flavell_h5(path)


def test_behaviour_is_optional(tmp_path: Path) -> None:
    path = _write_h5(tmp_path / "nobehaviour-data.h5", drop="behavior/reversal_vec")
    assert read_flavell_h5(path).reversal is None


def test_timestamp_count_mismatch(tmp_path: Path) -> None:
    path = _write_h5(tmp_path / "short-data.h5", timestamps=T - 3)
    with pytest.raises(DataFormatError, match=r"timestamp_confocal' has shape \(17,\).*20 frames"):
        read_flavell_h5(path)


def test_labels_csv_with_wrong_row_count(tmp_path: Path) -> None:
    path = _write_h5(tmp_path / "worm-data.h5")
    (tmp_path / "labels").mkdir()
    csv = _write_labels(tmp_path / "labels" / "worm.csv", rows=N + 2)
    with pytest.raises(DataFormatError, match=r"worm\.csv has 7 rows but the recording has 5"):
        read_flavell_h5(path)
    _write_labels(csv, rows=N)
    assert read_flavell_h5(path).labels == ("AVAL",) * N


def test_labels_csv_missing_columns(tmp_path: Path) -> None:
    path = _write_h5(tmp_path / "worm-data.h5")
    (tmp_path / "worm.csv").write_text("index,name\n" + "".join(f"{i},X\n" for i in range(N)))
    with pytest.raises(DataFormatError, match=r"needs the columns 'trace_index' and 'label'"):
        read_flavell_h5(path)


def test_uncertain_labels_count_as_unknown(tmp_path: Path) -> None:
    path = _write_h5(tmp_path / "worm-data.h5")
    rows = ["trace_index,label"] + [f"{i},{'AVAL?' if i == 0 else 'AVBR'}" for i in range(N)]
    (tmp_path / "worm.csv").write_text("\n".join(rows))
    assert read_flavell_h5(path).labels == (None,) + ("AVBR",) * (N - 1)


def test_recording_shape_mismatches_are_explained() -> None:
    with pytest.raises(DataFormatError, match=r"timestamps has shape \(3,\) but traces has 4"):
        Recording("x", np.zeros((4, 2)), np.arange(3.0), (None, None))
    with pytest.raises(DataFormatError, match=r"3 neuron labels for 2 trace columns"):
        Recording("x", np.zeros((4, 2)), np.arange(4.0), (None, None, None))
    with pytest.raises(DataFormatError, match=r"reversal has shape \(5,\) but traces has 4"):
        Recording("x", np.zeros((4, 2)), np.arange(4.0), (None, None), reversal=np.zeros(5))
    with pytest.raises(DataFormatError, match=r"timestamps must increase strictly"):
        Recording("x", np.zeros((4, 2)), np.array([0.0, 1.0, 1.0, 2.0]), (None, None))
    with pytest.raises(DataFormatError, match=r"traces must be a non-empty 2-D array"):
        Recording("x", np.zeros(4), np.arange(4.0), ())


def test_npz_errors(tmp_path: Path) -> None:
    np.savez(tmp_path / "notimes.npz", traces=np.zeros((3, 2)))
    with pytest.raises(DataFormatError, match=r"key 'timestamps' is missing"):
        read_npz(tmp_path / "notimes.npz")
    rec = Recording("w", np.zeros((3, 2)), np.arange(3.0), ("AVAL", None))
    good = write_npz(rec, tmp_path / "good.npz")
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[:50])
    with pytest.raises(DataFormatError, match=r"cut\.npz is not a readable \.npz file"):
        read_npz(tmp_path / "cut.npz")


def test_unknown_suffix_and_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "traces.mat").write_bytes(b"x")
    with pytest.raises(DataFormatError, match=r"unknown recording type '\.mat'.*convert"):
        load_recording(tmp_path / "traces.mat")
    with pytest.raises(DataFormatError, match=r"holds no recording"):
        discover_recordings(tmp_path)
    with pytest.raises(DataFormatError, match=r"does not exist or is not a folder"):
        discover_recordings(tmp_path / "absent")


def test_discovery_finds_each_format(tmp_path: Path, flavell_dir: Path) -> None:
    shutil.copy(flavell_dir / "2022-07-26-31-data.h5", tmp_path)
    rec = Recording("w", np.zeros((3, 2)), np.arange(3.0), (None, None))
    write_npz(rec, tmp_path / "w.npz")
    (tmp_path / "notes.txt").write_text("ignored")
    assert [p.name for p in discover_recordings(tmp_path)] == ["2022-07-26-31-data.h5", "w.npz"]
    # Without its labels folder the HDF5 recording loads with no identities.
    assert load_recording(tmp_path / "2022-07-26-31-data.h5").n_labelled == 0


def test_cli_reports_bad_input_without_a_traceback(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rtdecode.cli import cli

    result = CliRunner().invoke(cli, ["info", str(tmp_path / "missing.npz")])
    assert result.exit_code == 1
    assert "Error: recording file" in result.output and "Traceback" not in result.output
