"""The :class:`Recording`: one animal's traces, timing, neuron labels and behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtdecode.errors import DataFormatError

__all__ = ["Recording"]


def _numbers(value: object, dtype: type, name: str, where: str) -> np.ndarray:
    """``value`` as a contiguous numeric array, or an error naming the array."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise DataFormatError(
            f"{where}: {name} holds {array.dtype} values, not numbers; store it as a numeric array"
        )
    return np.ascontiguousarray(array, dtype=dtype)


@dataclass(frozen=True, eq=False)
class Recording:
    """One whole-brain recording of one animal.

    Parameters
    ----------
    id
        Short identifier, usually the file stem (for example ``"2022-07-26-31"``).
    traces
        ``(T, N)`` float32 activity per volume and neuron, as a live microscope would send it
        (ratiometric, not normalised over the recording). NaN marks a missing value.
    timestamps
        ``(T,)`` float64 acquisition time of each volume in seconds, strictly increasing.
    labels
        One entry per neuron: its identity (for example ``"AVAL"``) or ``None`` when unknown.
    reversal
        ``(T,)`` bool, True while the animal reverses; ``None`` when behaviour was not tracked.
    velocity
        ``(T,)`` float32 velocity along the body axis in mm/s (forward positive), or ``None``.
    segments
        ``(k, 2)`` int64 ``[start, stop)`` frame ranges of stitched acquisition segments.
    source
        The file the recording was read from, if any.
    """

    id: str
    traces: np.ndarray
    timestamps: np.ndarray
    labels: tuple[str | None, ...]
    reversal: np.ndarray | None = None
    velocity: np.ndarray | None = None
    segments: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    source: Path | None = None

    def __post_init__(self) -> None:
        where = f"recording '{self.id}'" + (f" ({self.source})" if self.source else "")
        traces = _numbers(self.traces, np.float32, "traces", where)
        if traces.ndim != 2 or traces.shape[0] < 1 or traces.shape[1] < 1:
            raise DataFormatError(
                f"{where}: traces must be a non-empty 2-D array (frames x neurons), "
                f"got shape {np.shape(self.traces)}; transpose or reshape it before loading"
            )
        n_frames, n_neurons = traces.shape
        timestamps = _numbers(self.timestamps, np.float64, "timestamps", where)
        if timestamps.shape != (n_frames,):
            raise DataFormatError(
                f"{where}: timestamps has shape {timestamps.shape} but traces has {n_frames} "
                "frames; give one timestamp (seconds) per frame"
            )
        if n_frames > 1 and not np.all(np.diff(timestamps) > 0):
            raise DataFormatError(
                f"{where}: timestamps must increase strictly (seconds per volume); "
                "sort the frames or fix the clock"
            )
        if len(self.labels) != n_neurons:
            raise DataFormatError(
                f"{where}: {len(self.labels)} neuron labels for {n_neurons} trace columns; "
                "give one label (or None) per neuron"
            )
        labels = tuple(None if (lab is None or str(lab) == "") else str(lab) for lab in self.labels)
        object.__setattr__(self, "traces", traces)
        object.__setattr__(self, "timestamps", timestamps)
        object.__setattr__(self, "labels", labels)
        for name in ("reversal", "velocity"):
            value = getattr(self, name)
            if value is None:
                continue
            array = _numbers(value, np.float32, name, where)
            if name == "reversal":
                bad = int((~np.isfinite(array)).sum())
                if bad:
                    raise DataFormatError(
                        f"{where}: reversal has {bad} non-finite value(s) (NaN marks no "
                        "tracked behaviour, which a 0/1 label cannot say); drop those frames "
                        "or the whole reversal array, or set them to 0/1"
                    )
                array = np.ascontiguousarray(array > 0)
            if array.shape != (n_frames,):
                raise DataFormatError(
                    f"{where}: {name} has shape {np.shape(value)} but traces has {n_frames} "
                    f"frames; give one {name} value per frame"
                )
            object.__setattr__(self, name, array)
        segments = np.asarray(self.segments, dtype=np.int64).reshape(-1, 2)
        if segments.size == 0:
            segments = np.array([[0, n_frames]], dtype=np.int64)
        if (
            segments.min() < 0
            or segments.max() > n_frames
            or np.any(segments[:, 1] <= segments[:, 0])
        ):
            raise DataFormatError(
                f"{where}: segments {segments.tolist()} do not fit {n_frames} frames; "
                "each segment is a [start, stop) range of frame indices"
            )
        object.__setattr__(self, "segments", segments)

    @property
    def n_frames(self) -> int:
        """Number of volumes (T)."""
        return int(self.traces.shape[0])

    @property
    def n_neurons(self) -> int:
        """Number of neurons (N)."""
        return int(self.traces.shape[1])

    @property
    def frame_interval(self) -> float:
        """Median seconds between volumes (NaN for a single frame)."""
        if self.n_frames < 2:
            return float("nan")
        return float(np.median(np.diff(self.timestamps)))

    @property
    def n_labelled(self) -> int:
        """Number of neurons with a known identity."""
        return sum(lab is not None for lab in self.labels)

    def without_labels(self) -> Recording:
        """Return a copy with every neuron identity removed (as from a rig without NeuroPAL)."""
        return Recording(
            id=self.id,
            traces=self.traces,
            timestamps=self.timestamps,
            labels=(None,) * self.n_neurons,
            reversal=self.reversal,
            velocity=self.velocity,
            segments=self.segments,
            source=self.source,
        )

    def summary(self) -> str:
        """One line describing the recording, for listings."""
        rev = "no behaviour" if self.reversal is None else f"reversal {self.reversal.mean():.0%}"
        return (
            f"{self.id}: {self.n_frames} frames x {self.n_neurons} neurons, "
            f"{self.frame_interval:.3f} s/frame, {self.n_labelled} labelled, {rev}"
        )
