"""Reader for the HDF5 files of Dag et al. 2023 (Flavell lab), with their NeuroPAL labels CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import h5py
import numpy as np

from rtdecode.data._recording import Recording
from rtdecode.errors import DataFormatError

__all__ = ["labels_csv_for", "read_flavell_h5", "read_labels_csv"]

TRACES_KEY = "gcamp/trace_array_original"
TIMESTAMPS_KEY = "timing/timestamp_confocal"
REVERSAL_KEY = "behavior/reversal_vec"
VELOCITY_KEY = "behavior/velocity"
SPLITS_KEY = "gcamp/idx_splits"


def recording_id(path: Path) -> str:
    """The recording id of a file: its stem without a trailing ``-data``."""
    stem = path.stem
    return stem[: -len("-data")] if stem.endswith("-data") else stem


def labels_csv_for(path: Path) -> Path | None:
    """Where the labels CSV of an HDF5 recording lives, if there is one.

    Looks for ``labels/<id>.csv`` beside the file, then ``<id>.csv`` beside it.
    """
    rid = recording_id(path)
    for candidate in (path.parent / "labels" / f"{rid}.csv", path.parent / f"{rid}.csv"):
        if candidate.is_file():
            return candidate
    return None


def read_labels_csv(path: Path, n_neurons: int) -> tuple[str | None, ...]:
    """Read one NeuroPAL label per trace column from a labels CSV.

    Uncertain calls (a trailing ``?``) are treated as unknown, since a wrong identity hurts a
    decoder more than a missing one.

    Parameters
    ----------
    path
        CSV with at least the columns ``trace_index`` and ``label``.
    n_neurons
        Number of trace columns the CSV must describe.
    """
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise DataFormatError(f"labels file {path} cannot be read ({exc}); check the path") from exc
    if rows and not {"trace_index", "label"} <= set(rows[0]):
        raise DataFormatError(
            f"labels file {path} needs the columns 'trace_index' and 'label', "
            f"found {sorted(rows[0])}; fix the header row"
        )
    if len(rows) != n_neurons:
        raise DataFormatError(
            f"labels file {path} has {len(rows)} rows but the recording has {n_neurons} neurons; "
            "it must have one row per trace column (is it the labels file of another recording?)"
        )
    labels: list[str | None] = [None] * n_neurons
    for line, row in enumerate(rows, start=2):
        try:
            index = int(row["trace_index"])
        except (TypeError, ValueError) as exc:
            raise DataFormatError(
                f"labels file {path}, line {line}: trace_index {row['trace_index']!r} is not an "
                "integer; use the 0-based trace column"
            ) from exc
        if not 0 <= index < n_neurons:
            raise DataFormatError(
                f"labels file {path}, line {line}: trace_index {index} is outside 0..{n_neurons - 1}"
                "; use the 0-based trace column of this recording"
            )
        label = (row.get("label") or "").strip()
        labels[index] = label if label and not label.endswith("?") else None
    return tuple(labels)


def _dataset(handle: h5py.File, key: str, path: Path) -> np.ndarray:
    if key not in handle:
        raise DataFormatError(
            f"{path}: HDF5 key '{key}' is missing; this reader expects the Dag et al. 2023 layout "
            "(see 'Recording formats' in the README, or convert your data with `rtdecode convert`)"
        )
    try:
        return np.asarray(handle[key][()])
    except (OSError, KeyError) as exc:
        raise DataFormatError(
            f"{path}: HDF5 key '{key}' cannot be read ({exc}); the file is probably truncated, "
            "copy it again and compare its checksum"
        ) from exc


def read_flavell_h5(path: Path, labels_csv: Path | None = None) -> Recording:
    """Load one recording in the HDF5 layout of ``shared/data/flavell2023``.

    Parameters
    ----------
    path
        The ``<id>-data.h5`` file.
    labels_csv
        Its NeuroPAL labels; by default found with :func:`labels_csv_for`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"recording file {path} does not exist; check the path")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataFormatError(
            f"{path} is not a readable HDF5 file ({exc}); it may be truncated or corrupt: "
            "copy it again and compare its checksum"
        ) from exc
    with handle:
        traces = _dataset(handle, TRACES_KEY, path)
        timestamps = _dataset(handle, TIMESTAMPS_KEY, path)
        reversal = _dataset(handle, REVERSAL_KEY, path) if REVERSAL_KEY in handle else None
        velocity = _dataset(handle, VELOCITY_KEY, path) if VELOCITY_KEY in handle else None
        splits = _dataset(handle, SPLITS_KEY, path) if SPLITS_KEY in handle else None
    if traces.ndim != 2:
        raise DataFormatError(
            f"{path}: '{TRACES_KEY}' must be 2-D (frames x neurons), got {traces.shape}"
        )
    if timestamps.ndim != 1 or timestamps.shape[0] != traces.shape[0]:
        raise DataFormatError(
            f"{path}: '{TIMESTAMPS_KEY}' has shape {timestamps.shape} but '{TRACES_KEY}' has "
            f"{traces.shape[0]} frames; the file is inconsistent, re-export it"
        )
    for key, vec in ((REVERSAL_KEY, reversal), (VELOCITY_KEY, velocity)):
        if vec is not None and vec.shape != (traces.shape[0],):
            raise DataFormatError(
                f"{path}: '{key}' has shape {vec.shape} but '{TRACES_KEY}' has {traces.shape[0]} "
                "frames; the file is inconsistent, re-export it"
            )
    segments = None
    if splits is not None:
        splits = np.asarray(splits, dtype=np.int64).reshape(2, -1)
        segments = np.stack(
            [splits[0] - 1, splits[1]], axis=1
        )  # 1-based inclusive -> [start, stop)
    n_neurons = traces.shape[1]
    csv_path = labels_csv if labels_csv is not None else labels_csv_for(path)
    labels = read_labels_csv(csv_path, n_neurons) if csv_path is not None else (None,) * n_neurons
    return Recording(
        id=recording_id(path),
        traces=traces,
        timestamps=timestamps,
        labels=labels,
        reversal=None if reversal is None else reversal > 0,
        velocity=velocity,
        segments=segments if segments is not None else np.zeros((0, 2), dtype=np.int64),
        source=path,
    )
