"""The session file's ``/activity`` group: each published frame's preprocessed row.

What ``rtdecode view SESSION.h5`` replays for the activity raster, the manifold and the inferred
graph (the model's edge module runs on the recorded window). Layout::

    /activity/{seq, t, layout}
        one row per published frame (the frame decoded into a prediction), in order
    /activity/features
        1-D float32: each frame's ``(n, F)`` features (z-score, dz/dt, skewness), flattened
    /activity/valid
        1-D bool: each frame's ``(n,)`` mask of real (not carried-forward) values
    /activity/layouts/{row, n, n_features, window, frame_interval_s, labelled}
        one row per neuron layout that published a frame: its first frame's index, shape, the
        engine's window, the frame interval (NaN: measured), and whether ``labels`` holds its
        ``n`` neuron identities (``b""`` where unknown)
    /activity/layouts/labels
        1-D ``S64``: the labelled layouts' identities, in order

The neuron count may change mid-run (a new layout): the flat arrays take each frame's own size.
float32, the decoder's own values: the edge module then runs on exactly the window the decoder
saw. float16 would halve the size, but it moved the edge weights by up to 3e-4 of the largest
and changed one of the top 40 edges in some windows (docs/view.md has the sizes per hour).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from rtdecode.errors import DataFormatError
from rtdecode.stream._session_tables import Ragged, Table, open_for_reading

__all__ = ["ACTIVITY_DTYPE", "ActivityLayout", "ActivityWriter", "SessionActivity", "read_activity"]

ACTIVITY_DTYPE = np.dtype(np.float32)
"""How the features are stored (as the decoder computed them)."""
_LABEL = np.dtype("S64")


class ActivityWriter:
    """Appends published frames' rows to the ``/activity`` group (made in ``group``).

    The SWMR file cannot get new datasets once written, so every layout shares the same flat
    datasets; :meth:`fits` says when the blocks must be flushed before the next frame.
    """

    def __init__(self, group: h5py.Group) -> None:
        i4, i8, f8 = np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.float64)
        self.frames = Table(group, {"seq": (i8, ()), "t": (f8, ()), "layout": (i4, ())})
        # blocks of 256 kB of features: a write when one fills is no larger than the frames
        # table's (the decode thread writes it, between frames)
        self.features = Ragged(group, "features", ACTIVITY_DTYPE, rows=2**16, chunk=2**15)
        self.valid = Ragged(group, "valid", np.dtype(np.bool_), rows=2**16, chunk=2**15)
        layouts = group.create_group("layouts")
        columns: dict[str, tuple[np.dtype, tuple[int, ...]]] = {
            name: (kind, ())
            for name, kind in (("row", i8), ("n", i4), ("n_features", i4), ("window", i4))
        }
        columns["frame_interval_s"] = (f8, ())
        columns["labelled"] = (np.dtype(np.bool_), ())
        self.layouts = Table(layouts, columns)
        self.labels = Ragged(layouts, "labels", _LABEL, rows=4096, chunk=1024)
        self.rows = 0
        self._layouts = 0
        self._shape: tuple[int, int] | None = None
        self._next: tuple[tuple[str | None, ...] | None, int, float | None] = (None, 0, None)

    def layout(
        self, labels: tuple[str | None, ...] | None, window: int, frame_interval_s: float | None
    ) -> None:
        """A new neuron layout starts (its row is written with its first frame)."""
        self._next = (labels, window, frame_interval_s)
        self._shape = None

    def fits(self, features: np.ndarray) -> bool:
        """Whether the frame's row fits in the blocks (else flush them first)."""
        n, f = features.shape
        return (
            not self.frames.full
            and not self.layouts.full
            and self.features.fits(n * f)
            and self.valid.fits(n)
            and self.labels.fits(n)
        )

    def record(self, seq: int, t: float, features: np.ndarray, valid: np.ndarray) -> None:
        """Copy one published frame's ``(n, F)`` features and ``(n,)`` mask into the blocks."""
        n, f = features.shape
        if self._shape != (n, f):
            self._new_layout(n, f)
        frames, i = self.frames, self.frames.fill
        frames.block["seq"][i] = seq
        frames.block["t"][i] = t
        frames.block["layout"][i] = self._layouts - 1
        frames.fill += 1
        self.features.take(n * f).reshape(n, f)[:] = features
        self.valid.take(n)[:] = valid
        self.rows += 1

    def _new_layout(self, n: int, f: int) -> None:
        labels, window, interval = self._next
        if labels is not None and len(labels) != n:
            labels = None  # not this layout's
        table, i = self.layouts, self.layouts.fill
        block = table.block
        block["row"][i], block["n"][i], block["n_features"][i] = self.rows, n, f
        block["window"][i] = window
        block["frame_interval_s"][i] = np.nan if interval is None else interval
        block["labelled"][i] = labels is not None
        table.fill += 1
        if labels is not None:
            self.labels.take(n)[:] = [(name or "").encode()[:64] for name in labels]
        self._layouts += 1
        self._shape = (n, f)

    @property
    def pending_bytes(self) -> int:
        """Bytes the waiting rows take once written."""
        parts = (self.frames, self.features, self.valid, self.layouts, self.labels)
        return sum(part.pending_bytes for part in parts)

    def flush(self) -> None:
        """Append the waiting rows to the file (the flat arrays before the frames)."""
        for part in (self.features, self.valid, self.labels, self.layouts, self.frames):
            part.flush()


@dataclass(frozen=True)
class ActivityLayout:
    """One neuron layout of a session (see the module description)."""

    row: int
    n: int
    n_features: int
    window: int
    frame_interval_s: float | None
    labels: tuple[str | None, ...] | None


@dataclass(frozen=True)
class SessionActivity:
    """A session's recorded activity (:func:`read_activity`).

    Attributes
    ----------
    seq, t, layout
        Per published frame: its sequence number, frame time and layout index.
    layouts
        The neuron layouts.
    model
        The model file the decoder ran (``None``: the shipped model).
    """

    seq: np.ndarray
    t: np.ndarray
    layout: np.ndarray
    layouts: tuple[ActivityLayout, ...]
    model: str | None
    _features: np.ndarray
    _valid: np.ndarray
    _starts: np.ndarray  # per frame: its first value in _features
    _valid_starts: np.ndarray  # per frame: its first value in _valid

    def __len__(self) -> int:
        return len(self.seq)

    def rows(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames ``start:stop`` (one layout) as ``(k, n, F)`` float32 and ``(k, n)`` bool
        (copies)."""
        features = self._features_view(start, stop).astype(np.float32)
        n = features.shape[1]
        a, b = self._valid_starts[start], self._valid_starts[stop - 1] + n
        return features, self._valid[a:b].reshape(stop - start, n).copy()

    def activity(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` (one layout): the ``(k, n)`` normalised activity (channel 0)."""
        return self._features_view(start, stop)[..., 0].astype(np.float64)

    def _features_view(self, start: int, stop: int) -> np.ndarray:
        if not 0 <= start < stop <= len(self) or self.layout[stop - 1] != self.layout[start]:
            raise ValueError(f"frames {start}:{stop} are not frames of one layout")
        where = self.layouts[int(self.layout[start])]
        n, f = where.n, where.n_features
        a, b = self._starts[start], self._starts[stop - 1] + n * f
        return self._features[a:b].reshape(stop - start, n, f)


def read_activity(path: Path | str) -> SessionActivity | None:
    """The activity a session file holds (``None`` when it keeps none: written before it was
    recorded, or with ``--no-session-activity``); a file cut short (a crash) gives the frames
    whose rows were all written.

    Raises
    ------
    DataFormatError
        When the file cannot be read.
    """
    try:
        with open_for_reading(path) as handle:
            if "activity" not in handle:
                return None
            group = handle["activity"]
            columns = {name: group[name][:] for name in ("seq", "t", "layout")}
            features, valid = group["features"][:], group["valid"][:]
            table = {name: group["layouts"][name][:] for name in group["layouts"]}
            model = handle.attrs.get("model_file") or handle.attrs.get("model")
    except OSError as exc:
        raise DataFormatError(f"cannot read the activity of session file {path} ({exc})") from exc
    layouts = _layouts(table)
    kept = int(np.count_nonzero(columns["layout"] < len(layouts)))  # their layout was written
    layout = columns["layout"][:kept]
    sizes = np.array([(g.n * g.n_features, g.n) for g in layouts], np.int64).reshape(-1, 2)
    ends = np.cumsum(sizes[layout], axis=0) if kept else np.zeros((0, 2), np.int64)
    kept = int(np.count_nonzero((ends[:, 0] <= len(features)) & (ends[:, 1] <= len(valid))))
    starts = np.vstack([np.zeros((1, 2), np.int64), ends[: kept - 1]]) if kept else ends
    return SessionActivity(
        seq=columns["seq"][:kept],
        t=columns["t"][:kept],
        layout=layout[:kept],
        layouts=layouts,
        model=None if model in (None, "", "default") else str(model),
        _features=features,
        _valid=valid,
        _starts=starts[:, 0],
        _valid_starts=starts[:, 1],
    )


def _layouts(table: dict[str, np.ndarray]) -> tuple[ActivityLayout, ...]:
    """The layouts table's rows, with their identities."""
    out, at = [], 0
    names = [bytes(b).decode("utf-8", "replace") for b in table.get("labels", [])]
    for i in range(len(table.get("row", ()))):
        n = int(table["n"][i])
        labels = None
        if table["labelled"][i]:
            labels = tuple(name or None for name in names[at : at + n])
            at += n
            labels = labels if len(labels) == n else None  # cut short by a crash
        interval = float(table["frame_interval_s"][i])
        out.append(
            ActivityLayout(
                int(table["row"][i]),
                n,
                int(table["n_features"][i]),
                int(table["window"][i]),
                interval if np.isfinite(interval) else None,
                labels,
            )
        )
    return tuple(out)
