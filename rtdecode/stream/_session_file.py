"""The session file: every frame's timing and every prediction, in HDF5.

Layout (all times ``time.perf_counter_ns()``, i.e. CLOCK_MONOTONIC, comparable across
processes on one machine)::

    /frames/{seq, t, sent_ns, recv_ns, preprocessed_ns, inferred_ns, published_ns}
        one row per received frame; inferred_ns = published_ns = -1 where the frame was not
        decoded (window still filling, or skipped under backpressure); sent_ns = -1 where the
        producer did not send it
    /predictions/{seq, t, state, probs, latency_us}
        one row per prediction; probs is (P, n_states) float32, state an index into
        the ``states`` attribute
    /behavior/{seq, t, velocity, reversal}
        one row per behaviour sample received (velocity in mm/s, reversal 0/1; NaN where the
        sample did not carry it or the tracker lost the animal); empty without behaviour
    attributes: format ("rtdecode-session"), version (1), states, created (ISO time), and at
        close ``summary`` (the run's summary as JSON)

Rows collect in preallocated blocks and are appended to the file when a block fills or every
``flush_every_s`` seconds (so a crash loses at most that much), between frames; memory stays
constant however long the session runs.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from rtdecode.errors import SourceError
from rtdecode.stream._sink import FrameTiming, Prediction, Sink

__all__ = ["BEHAVIOR_COLUMNS", "FRAME_COLUMNS", "SessionFile"]

FRAME_COLUMNS = ("seq", "t", "sent_ns", "recv_ns", "preprocessed_ns", "inferred_ns", "published_ns")
BEHAVIOR_COLUMNS = ("seq", "t", "velocity", "reversal")
_BLOCK = 2048


class _Table:
    """Columns written in blocks to resizable 1- or 2-D datasets of one HDF5 group."""

    def __init__(self, group: h5py.Group, columns: dict[str, tuple[np.dtype, tuple[int, ...]]]):
        self._datasets = {
            name: group.create_dataset(
                name,
                shape=(0, *shape),
                maxshape=(None, *shape),
                dtype=dtype,
                chunks=(_BLOCK, *shape),
            )
            for name, (dtype, shape) in columns.items()
        }
        self.block = {
            name: np.zeros((_BLOCK, *shape), dtype=dtype)
            for name, (dtype, shape) in columns.items()
        }
        self.fill = 0

    def row_done(self) -> None:
        self.fill += 1
        if self.fill == _BLOCK:
            self.flush()

    def flush(self) -> None:
        if self.fill == 0:
            return
        for name, dataset in self._datasets.items():
            start = dataset.shape[0]
            dataset.resize(start + self.fill, axis=0)
            dataset[start:] = self.block[name][: self.fill]
        self.fill = 0


class SessionFile(Sink):
    """Record a session into an HDF5 file (see the module description for the layout).

    Parameters
    ----------
    path
        The ``.h5`` file to create (an existing file is replaced).
    attrs
        More attributes for the file root (source, model, engine, ...).
    flush_every_s
        Longest time rows wait in memory before they are written to the file.
    """

    def __init__(
        self, path: Path | str, attrs: dict[str, str] | None = None, flush_every_s: float = 5.0
    ) -> None:
        self.path = Path(path)
        self.uri = str(path)
        self._attrs = attrs or {}
        self._flush_every = flush_every_s
        self._next_flush = 0.0
        self._file: h5py.File | None = None
        self._frames: _Table | None = None
        self._preds: _Table | None = None
        self._behavior: _Table | None = None
        self._pending: Prediction | None = None

    def open(self, states: tuple[str, ...]) -> None:
        """Create the file and its tables."""
        try:
            # No chunk cache: rows are written once, in blocks, and never read back; with the
            # library's default cache HDF5 2.0 kept every written chunk in memory (a 10-minute
            # 1 kHz session grew by the file's size, ~40 MiB).
            handle = h5py.File(self.path, "w", rdcc_nbytes=0)
        except OSError as exc:
            raise SourceError(
                f"cannot create session file {self.path} ({exc}); check the folder exists and "
                "is writable"
            ) from exc
        handle.attrs.update(
            {
                "format": "rtdecode-session",
                "version": 1,
                "states": list(states),
                "created": datetime.now(UTC).isoformat(),
                **self._attrs,
            }
        )
        i8, f8 = np.dtype(np.int64), np.dtype(np.float64)
        self._frames = _Table(
            handle.create_group("frames"),
            {name: (f8 if name == "t" else i8, ()) for name in FRAME_COLUMNS},
        )
        self._preds = _Table(
            handle.create_group("predictions"),
            {
                "seq": (i8, ()),
                "t": (f8, ()),
                "state": (np.dtype(np.int16), ()),
                "probs": (np.dtype(np.float32), (len(states),)),
                "latency_us": (f8, ()),
            },
        )
        self._behavior = _Table(
            handle.create_group("behavior"),
            {name: (i8 if name == "seq" else f8, ()) for name in BEHAVIOR_COLUMNS},
        )
        self._file = handle
        self._next_flush = time.monotonic() + self._flush_every

    def publish(self, prediction: Prediction) -> None:
        """Hold the prediction until :meth:`record_frame` brings its frame's timing."""
        self._pending = prediction

    def record_frame(self, timing: FrameTiming) -> None:
        """Append one frame's timing row (and its prediction's row, if it was decoded)."""
        frames, preds = self._frames, self._preds
        assert frames is not None and preds is not None, "open() the session file first"
        i, block = frames.fill, frames.block
        for name in FRAME_COLUMNS:
            block[name][i] = getattr(timing, name)
        frames.row_done()
        pending = self._pending
        if pending is not None and pending.seq == timing.seq and timing.published_ns >= 0:
            i, block = preds.fill, preds.block
            block["seq"][i] = pending.seq
            block["t"][i] = pending.t
            block["state"][i] = pending.state
            block["probs"][i] = pending.probs
            block["latency_us"][i] = (timing.published_ns - timing.recv_ns) / 1e3
            preds.row_done()
            self._pending = None
        if time.monotonic() >= self._next_flush:
            self._next_flush = time.monotonic() + self._flush_every
            frames.flush()
            preds.flush()
            assert self._file is not None and self._behavior is not None
            self._behavior.flush()
            self._file.flush()

    def record_behavior(self, seq: int, t: float, velocity: float, reversal: float) -> None:
        """Append one behaviour sample's row."""
        table = self._behavior
        assert table is not None, "open() the session file first"
        i, block = table.fill, table.block
        block["seq"][i] = seq
        block["t"][i] = t
        block["velocity"][i] = velocity
        block["reversal"][i] = reversal
        table.row_done()

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Write what is left and the summary, and close the file."""
        if self._file is None:
            return
        assert self._frames is not None and self._preds is not None
        assert self._behavior is not None
        self._frames.flush()
        self._preds.flush()
        self._behavior.flush()
        if summary is not None:
            self._file.attrs["summary"] = json.dumps(summary)
        self._file.close()
        self._file = None
