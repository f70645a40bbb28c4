"""The minimal ``.npz`` recording format: plain NumPy arrays any lab can write.

Keys (all arrays; only the first two are required):

``traces``      (T, N) float, activity per volume and neuron (NaN = missing)
``timestamps``  (T,) float, seconds, strictly increasing
``labels``      (N,) str, neuron identity or "" when unknown
``reversal``    (T,) bool or 0/1, True while the animal reverses
``velocity``    (T,) float, mm/s along the body axis, forward positive
``segments``    (k, 2) int, [start, stop) frame ranges of stitched segments
``id``          0-d str, the recording's name (default: the file stem)
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from rtdecode.data._recording import Recording
from rtdecode.errors import DataFormatError

__all__ = ["read_npz", "write_npz"]

REQUIRED = ("traces", "timestamps")


def read_npz(path: Path) -> Recording:
    """Load a recording saved in the minimal ``.npz`` format (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"recording file {path} does not exist; check the path")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataFormatError(
            f"{path} is not a readable .npz file ({exc}); it may be truncated: write it again "
            "with rtdecode.data.write_npz or numpy.savez"
        ) from exc
    for key in REQUIRED:
        if key not in arrays:
            raise DataFormatError(
                f"{path}: key '{key}' is missing; an rtdecode .npz needs 'traces' (T x N) and "
                f"'timestamps' (T,), found {sorted(arrays)}"
            )
    n_neurons = arrays["traces"].shape[-1] if arrays["traces"].ndim else 0
    labels: tuple[str | None, ...] = (None,) * n_neurons
    if "labels" in arrays:
        raw = [str(x) for x in np.atleast_1d(arrays["labels"])]
        labels = tuple(x or None for x in raw)
    return Recording(
        id=str(arrays["id"]) if "id" in arrays else path.stem,
        traces=arrays["traces"],
        timestamps=arrays["timestamps"],
        labels=labels,
        reversal=arrays.get("reversal"),
        velocity=arrays.get("velocity"),
        segments=arrays.get("segments", np.zeros((0, 2), dtype=np.int64)),
        source=path,
    )


def write_npz(recording: Recording, path: Path) -> Path:
    """Save ``recording`` in the minimal ``.npz`` format, compressed; return the path written."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "id": np.array(recording.id),
        "traces": recording.traces,
        "timestamps": recording.timestamps,
        "labels": np.array([lab or "" for lab in recording.labels], dtype=str),
        "segments": recording.segments,
    }
    if recording.reversal is not None:
        arrays["reversal"] = recording.reversal
    if recording.velocity is not None:
        arrays["velocity"] = recording.velocity
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    return path
