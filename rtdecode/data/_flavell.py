"""Reader for the HDF5 files of Dag et al. 2023 (Flavell lab), with their NeuroPAL labels CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import h5py
import numpy as np

from rtdecode.data._recording import Recording
from rtdecode.errors import DataFormatError
from rtdecode.log import get_logger

__all__ = ["labels_csv_for", "read_flavell_h5", "read_labels_csv"]

TRACES_KEY = "gcamp/trace_array_original"
TIMESTAMPS_KEY = "timing/timestamp_confocal"
REVERSAL_KEY = "behavior/reversal_vec"
VELOCITY_KEY = "behavior/velocity"
SPLITS_KEY = "gcamp/idx_splits"
_log = get_logger(__name__)


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
        # utf-8-sig: spreadsheet programs start "CSV UTF-8" files with a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise DataFormatError(f"labels file {path} cannot be read ({exc}); check the path") from exc
    except UnicodeDecodeError as exc:
        raise DataFormatError(
            f"labels file {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            'save it as UTF-8 ("CSV UTF-8" in spreadsheet programs)'
        ) from exc
    except csv.Error as exc:
        raise DataFormatError(f"labels file {path} is not a readable CSV file ({exc})") from exc
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
    seen: dict[int, int] = {}
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
        if index in seen:
            raise DataFormatError(
                f"labels file {path}: trace_index {index} appears twice (lines {seen[index]} and "
                f"{line}); give each trace column exactly one row"
            )
        seen[index] = line
        label = (row.get("label") or "").strip()
        labels[index] = label if label and not label.endswith("?") else None
    return tuple(labels)


def _dataset(handle: h5py.File, key: str, path: Path) -> np.ndarray:
    if key not in handle:
        raise DataFormatError(
            f"{path}: HDF5 key '{key}' is missing; this reader expects the Dag et al. 2023 layout "
            "(see docs/formats.md, or convert your data with `rtdecode convert`)"
        )
    node = handle[key]
    if not isinstance(node, h5py.Dataset):
        raise DataFormatError(
            f"{path}: '{key}' is an HDF5 group, not a dataset (an array); this reader expects "
            "the Dag et al. 2023 layout (see docs/formats.md)"
        )
    try:
        return np.asarray(node[()])
    except (OSError, KeyError) as exc:
        raise DataFormatError(
            f"{path}: HDF5 key '{key}' cannot be read ({exc}); the file is probably truncated, "
            "copy it again and compare its checksum"
        ) from exc


def _segments(splits: np.ndarray, n_frames: int, path: Path) -> np.ndarray:
    """``[start, stop)`` frame ranges from ``idx_splits`` (1-based inclusive, (2, k))."""
    fix = f"'{SPLITS_KEY}' must hold (2, k) 1-based [first; last] frame numbers"
    if splits.dtype.kind not in "iuf" or splits.size % 2 or splits.size == 0:
        raise DataFormatError(
            f"{path}: {fix}, got shape {splits.shape} ({splits.dtype}); fix or delete it"
        )
    pairs = np.asarray(splits, dtype=np.int64).reshape(2, -1)
    segments = np.stack([pairs[0] - 1, pairs[1]], axis=1)
    if segments.min() < 0 or segments.max() > n_frames or np.any(segments[:, 1] <= segments[:, 0]):
        raise DataFormatError(
            f"{path}: {fix} within 1..{n_frames}, got {pairs.tolist()}; fix or delete it"
        )
    return segments


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
    if timestamps.ndim == 1 and timestamps.shape[0] > traces.shape[0] >= 1:
        # Published files exist whose clock kept running after the last kept volume (1,600
        # evenly spaced timestamps for 1,137 frames): the frames are the first volumes, so their
        # times are the first entries.
        timestamps, entries = timestamps[: traces.shape[0]], timestamps.shape[0]
        _log.warning(
            "%s: '%s' has %d entries for %d frames; using the first %d (%.3f s per frame)",
            path,
            TIMESTAMPS_KEY,
            entries,
            traces.shape[0],
            traces.shape[0],
            float(np.median(np.diff(timestamps))) if len(timestamps) > 1 else float("nan"),
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
        segments = _segments(splits, traces.shape[0], path)
    n_neurons = traces.shape[1]
    csv_path = labels_csv if labels_csv is not None else labels_csv_for(path)
    labels = read_labels_csv(csv_path, n_neurons) if csv_path is not None else (None,) * n_neurons
    return Recording(
        id=recording_id(path),
        traces=traces,
        timestamps=timestamps,
        labels=labels,
        reversal=reversal,
        velocity=velocity,
        segments=segments if segments is not None else np.zeros((0, 2), dtype=np.int64),
        source=path,
    )
