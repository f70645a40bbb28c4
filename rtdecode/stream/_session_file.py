"""The session file: every frame's timing and every prediction, in HDF5.

Layout (all times ``time.perf_counter_ns()``, i.e. CLOCK_MONOTONIC, comparable across
processes on one machine)::

    /frames/{seq, t, sent_ns, recv_ns, preprocessed_ns, inferred_ns, published_ns}
        one row per received frame; inferred_ns = published_ns = -1 where the frame was not
        decoded (window still filling, or skipped under backpressure); sent_ns = -1 where the
        producer did not send it
    /predictions/{seq, t, state, probs, latency_us, uncertain, head}
        one row per prediction; probs is (P, n_states) float32 (as published: the calibrated
        head's once it decodes), state an index into the ``states`` attribute, uncertain
        whether the decided output was ``uncertain``, head 0 (shipped model) or 1 (the
        animal's calibrated head)
    /behavior/{seq, t, velocity, reversal}
        one row per behaviour sample received (velocity in mm/s, reversal 0/1; NaN where the
        sample did not carry it or the tracker lost the animal); empty without behaviour
    /triggers/{seq, t, kind, reason, pulse_ms, latency_us}
        one row per closed-loop event (``rtdecode run --trigger``): the frame behind it, kind
        (fire, sham, suppressed, arm, disarm, off), reason, pulse width, and frame received ->
        output byte written (NaN where nothing was written); empty without a trigger
    /activity/...
        each published frame's preprocessed row, for ``rtdecode view SESSION.h5`` (see
        :mod:`rtdecode.stream._session_activity`; absent with ``activity=False``, and in files
        written before it was kept); read with :func:`read_activity`, never by
        :func:`read_session`
    attributes: format ("rtdecode-session"), version (1), states, created (ISO time),
        ``policy`` (the trigger policy as JSON, with a trigger), and at close ``summary``
        (the run's summary as JSON) and, with self-calibration, ``calibration`` (JSON: chosen
        head, held-back scores, frames, reason, and the head's ``weights`` and ``bias`` when
        one decodes; what ``--calibration-from`` reads)

Rows collect in preallocated blocks and are appended to the file when a block fills, and at
least every ``flush_every_s`` seconds (at the next frame, or while the pipeline waits for one:
:meth:`SessionFile.idle`), so a crash loses at most that much; memory stays constant however
long the session runs.

Safety: the file is written in HDF5's single-writer/multiple-reader (SWMR) mode, so another
program can read it while it grows, and after a crash, with
``h5py.File(path, "r", libver="latest", swmr=True)``. An existing file is refused unless
``overwrite`` is given, and the file is locked (``flock``) before anything is truncated, so a
second session pointed at the file of a running one fails without touching it. When less than
:data:`RESERVE_BYTES` remain free for the file (disk or file-size limit), writing stops with an
``OSError`` and the file is closed cleanly, keeping every row written so far readable.

Reading: :func:`read_session` is the one reader (``rtdecode report``, yoked shams,
``--calibration-from``, the benchmark and the tools use it), so the group names live here only.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import resource
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from rtdecode.errors import DataFormatError, SourceError
from rtdecode.log import get_logger
from rtdecode.stream._session_activity import ActivityWriter
from rtdecode.stream._session_tables import Table, open_for_reading
from rtdecode.stream._sink import FrameTiming, Prediction, Sink

if TYPE_CHECKING:
    from rtdecode.policy import TriggerEvent

__all__ = [
    "BEHAVIOR_COLUMNS",
    "FORMAT",
    "FRAME_COLUMNS",
    "RESERVE_BYTES",
    "TABLES",
    "SessionData",
    "SessionFile",
    "is_session_file",
    "read_session",
]

_log = get_logger(__name__)

FRAME_COLUMNS = ("seq", "t", "sent_ns", "recv_ns", "preprocessed_ns", "inferred_ns", "published_ns")
BEHAVIOR_COLUMNS = ("seq", "t", "velocity", "reversal")
FORMAT = "rtdecode-session"
"""The root's ``format`` attribute."""
TABLES = ("frames", "predictions", "behavior", "triggers")
"""The file's groups, one table each (see the module description)."""
_JSON_ATTRS = ("policy", "summary", "calibration")
RESERVE_BYTES = 4 * 2**20
"""Writing stops while less than this is free for the file: room to close it cleanly."""


class SessionFile(Sink):
    """Record a session into an HDF5 file (see the module description for the layout).

    Parameters
    ----------
    path
        The ``.h5`` file to create.
    attrs
        More attributes for the file root (source, model, engine, ...).
    flush_every_s
        Longest time rows wait in memory before they are written to the file.
    overwrite
        Replace an existing file (by default an existing file is refused).
    activity
        Keep each published frame's preprocessed row (the ``/activity`` group, see
        :mod:`rtdecode.stream._session_activity`), for ``rtdecode view SESSION.h5``.
    """

    def __init__(
        self,
        path: Path | str,
        attrs: dict[str, str] | None = None,
        flush_every_s: float = 5.0,
        overwrite: bool = False,
        activity: bool = True,
    ) -> None:
        self.path = Path(path)
        self.uri = str(path)
        self._attrs = attrs or {}
        self._flush_every = flush_every_s
        self._overwrite = overwrite
        self._next_flush = 0.0
        self._lock_fd: int | None = None
        self._file: h5py.File | None = None
        self._frames: Table | None = None
        self._preds: Table | None = None
        self._behavior: Table | None = None
        self._triggers: Table | None = None
        self._activity: ActivityWriter | None = None
        self._keep_activity = activity
        self._calibration: dict[str, Any] | None = None

    def _claim(self) -> int:
        """Create (or, with ``overwrite``, open) the file without truncating it, and lock it."""
        flags = os.O_RDWR | os.O_CREAT | (0 if self._overwrite else os.O_EXCL)
        try:
            fd = os.open(self.path, flags, 0o644)
        except FileExistsError:
            raise SourceError(
                f"session file {self.path} already exists; choose another name, or pass "
                "--overwrite to replace it"
            ) from None
        except OSError as exc:
            raise SourceError(
                f"cannot create session file {self.path} ({exc.strerror}); check the folder "
                "exists and is writable"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise SourceError(
                f"session file {self.path} is in use by another running session; choose "
                "another name"
            ) from None
        return fd

    def open(self, states: tuple[str, ...]) -> None:
        """Claim and lock the file, then create its tables (SWMR mode: readable while written)."""
        self._lock_fd = self._claim()
        try:
            # No chunk cache: rows are written once, in blocks, and never read back; with the
            # library's default cache HDF5 2.0 kept every written chunk in memory (a 10-minute
            # 1 kHz session grew by the file's size, ~40 MiB). HDF5's own lock is off: ours
            # (flock on the claim) is held for the whole session and covers the truncation.
            handle = h5py.File(self.path, "w", libver="latest", locking=False, rdcc_nbytes=0)
        except OSError as exc:
            self._release()
            raise SourceError(f"cannot create session file {self.path} ({exc})") from exc
        handle.attrs.update(
            {
                "format": FORMAT,
                "version": 1,
                "states": list(states),
                "created": datetime.now(UTC).isoformat(),
                **self._attrs,
            }
        )
        i8, f8 = np.dtype(np.int64), np.dtype(np.float64)
        self._frames = Table(
            handle.create_group("frames"),
            {name: (f8 if name == "t" else i8, ()) for name in FRAME_COLUMNS},
        )
        self._preds = Table(
            handle.create_group("predictions"),
            {
                "seq": (i8, ()),
                "t": (f8, ()),
                "state": (np.dtype(np.int16), ()),
                "probs": (np.dtype(np.float32), (len(states),)),
                "latency_us": (f8, ()),
                "uncertain": (np.dtype(np.bool_), ()),
                "head": (np.dtype(np.int8), ()),
            },
        )
        self._behavior = Table(
            handle.create_group("behavior"),
            {name: (i8 if name == "seq" else f8, ()) for name in BEHAVIOR_COLUMNS},
        )
        label = np.dtype("S16")
        self._triggers = Table(
            handle.create_group("triggers"),
            {
                "seq": (i8, ()),
                "t": (f8, ()),
                "kind": (label, ()),
                "reason": (label, ()),
                "pulse_ms": (f8, ()),
                "latency_us": (f8, ()),
            },
        )
        if self._keep_activity:
            self._activity = ActivityWriter(handle.create_group("activity"))
        handle.swmr_mode = True
        self._file = handle
        self._next_flush = time.monotonic() + self._flush_every

    def publish(self, prediction: Prediction) -> None:
        """Nothing on the critical path: the prediction's row is written by
        :meth:`record_frame`, with its frame's timing."""

    def record_calibration(self, outcome: dict[str, Any]) -> None:
        """Keep self-calibration's outcome for the ``calibration`` attribute (written at close)."""
        self._calibration = outcome

    def record_trigger(self, event: TriggerEvent) -> None:
        """Append one closed-loop event (from the decoding thread; ``OSError`` as for
        :meth:`record_frame`)."""
        table = self._triggers
        if table is None:
            return  # closed after an error
        i, block = table.fill, table.block
        for name in ("seq", "t", "pulse_ms", "latency_us"):
            block[name][i] = getattr(event, name)
        block["kind"][i] = event.kind.encode()
        block["reason"][i] = event.reason.encode()
        table.fill += 1
        if table.full:
            self._flush()

    def record_frame(self, timing: FrameTiming, prediction: Prediction | None = None) -> None:
        """Append one frame's timing row (and its prediction's row, if it was decoded).

        Raises
        ------
        OSError
            When writing a block to the file failed, or too little room is left for it; the
            file is then closed (see :meth:`close`) and the session file is done.
        """
        frames, preds = self._frames, self._preds
        if frames is None or preds is None:
            return  # closed after an error
        i, block = frames.fill, frames.block
        for name in FRAME_COLUMNS:
            block[name][i] = getattr(timing, name)
        frames.fill += 1
        pending = prediction
        if pending is not None and pending.seq == timing.seq and timing.published_ns >= 0:
            i, block = preds.fill, preds.block
            block["seq"][i] = pending.seq
            block["t"][i] = pending.t
            block["state"][i] = pending.state
            block["probs"][i] = pending.probs
            block["latency_us"][i] = (timing.published_ns - timing.recv_ns) / 1e3
            block["uncertain"][i] = pending.uncertain
            block["head"][i] = pending.head
            preds.fill += 1
        if frames.full or preds.full or time.monotonic() >= self._next_flush:
            self._flush()

    def record_activity(self, seq: int, t: float, features: np.ndarray, valid: np.ndarray) -> None:
        """Copy one published frame's preprocessed row (``OSError`` as for
        :meth:`record_frame`)."""
        activity = self._activity
        if activity is None:
            return  # not kept, or closed after an error
        if not activity.fits(features):
            self._flush(activity_only=True)
        activity.record(seq, t, features, valid)

    def record_layout(
        self, labels: tuple[str | None, ...] | None, window: int, frame_interval_s: float | None
    ) -> None:
        """A new neuron layout: its identities, the engine's window and the frame interval."""
        if self._activity is not None:
            self._activity.layout(labels, window, frame_interval_s)

    def idle(self) -> None:
        """Write the rows waiting in memory if they have waited ``flush_every_s`` (see above)."""
        if self._frames is not None and time.monotonic() >= self._next_flush:
            self._flush()

    def _room(self) -> int:
        """Bytes the file may still grow by: free disk space, and the file-size limit."""
        assert self._lock_fd is not None
        disk = os.statvfs(self._lock_fd)
        room = disk.f_bavail * disk.f_frsize
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY:
            room = min(room, limit - os.fstat(self._lock_fd).st_size)
        return room

    def _flush(self, activity_only: bool = False) -> None:
        """Write the waiting rows (``activity_only``: the activity's full blocks alone, a
        smaller write; the file is flushed for readers at the next full flush)."""
        frames, preds, behavior = self._frames, self._preds, self._behavior
        triggers, handle, activity = self._triggers, self._file, self._activity
        assert frames is not None and preds is not None and behavior is not None
        assert triggers is not None and handle is not None
        parts: list[Table | ActivityWriter] = [frames, preds, behavior, triggers]
        if activity_only:
            parts = []
        else:
            self._next_flush = time.monotonic() + self._flush_every
        if activity is not None:
            parts.append(activity)
        needed = sum(part.pending_bytes for part in parts)
        if needed == 0:
            return
        try:
            room = self._room()
            if room < needed + RESERVE_BYTES:
                raise OSError(
                    errno.ENOSPC,
                    f"only {room / 2**20:.1f} MiB left for the session file (keeping "
                    f"{RESERVE_BYTES / 2**20:.0f} MiB to close it cleanly); free some space",
                )
            for part in parts:
                part.flush()
            if not activity_only:
                handle.flush()
        except OSError:
            self._abandon()
            raise

    def _abandon(self) -> None:
        """Stop writing after a failure: close the file, keep no HDF5 object, drop the rows."""
        self._frames = self._preds = self._behavior = self._triggers = None
        self._activity = None
        handle, self._file = self._file, None
        if handle is not None:
            try:
                handle.close()
            except (OSError, RuntimeError) as exc:
                _log.error("session file %s: could not close it cleanly (%s)", self.path, exc)
        self._release()

    def discard(self) -> None:
        """Close and delete the file: the run failed before its first frame, and an empty file
        would only make the retry fail with 'already exists'."""
        if self._file is None:
            return
        self._frames = self._preds = self._behavior = self._triggers = None
        self._activity = None
        try:
            self._file.close()
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            _log.error("session file %s could not be removed (%s); delete it", self.path, exc)
        finally:
            self._file = None
            self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def record_behavior(self, seq: int, t: float, velocity: float, reversal: float) -> None:
        """Append one behaviour sample's row (``OSError`` as for :meth:`record_frame`)."""
        table = self._behavior
        if table is None:
            return  # closed after an error
        i, block = table.fill, table.block
        block["seq"][i] = seq
        block["t"][i] = t
        block["velocity"][i] = velocity
        block["reversal"][i] = reversal
        table.fill += 1
        if table.full:
            self._flush()

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Write what is left and the summary (attribute ``summary``), and close the file."""
        if self._file is None:
            return  # never opened, or closed after an error
        try:
            self._flush()
        except OSError as exc:
            _log.error("session file %s: its last rows were not written (%s)", self.path, exc)
            return
        self._frames = self._preds = self._behavior = self._triggers = None
        self._activity = None
        self._file.close()  # SWMR mode creates no new attribute: reopen for the summary
        self._file = None
        try:
            if summary is not None or self._calibration is not None:
                with h5py.File(self.path, "r+", locking=False) as handle:
                    if summary is not None:
                        handle.attrs["summary"] = json.dumps(summary)
                    if self._calibration is not None:
                        handle.attrs["calibration"] = json.dumps(self._calibration)
        except OSError as exc:
            _log.error("session file %s: the summary was not written (%s)", self.path, exc)
        finally:
            self._release()


@dataclass(frozen=True)
class SessionData:
    """What a session file holds (see the module description for the columns).

    Attributes
    ----------
    path
        The file read.
    states
        The model's state names (``predictions["state"]`` indexes them).
    frames, predictions, behavior, triggers
        Each table as column name -> array; empty when the file has no such group or it was
        not asked for. Text columns (the triggers' ``kind`` and ``reason``) are ``str`` arrays.
    attrs
        The root's attributes; the JSON ones (``policy``, ``summary``, ``calibration``) decoded.
    """

    path: Path
    states: tuple[str, ...]
    frames: dict[str, np.ndarray] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    behavior: dict[str, np.ndarray] = field(default_factory=dict)
    triggers: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def policy(self) -> dict[str, Any]:
        """The trigger policy (empty for a session without a trigger)."""
        return dict(self.attrs.get("policy") or {})

    @property
    def summary(self) -> dict[str, Any] | None:
        """The run's summary (``None`` when the session did not close cleanly)."""
        return self.attrs.get("summary")

    @property
    def calibration(self) -> dict[str, Any] | None:
        """Self-calibration's outcome (``None`` for a session without it)."""
        return self.attrs.get("calibration")


def is_session_file(path: Path | str) -> bool:
    """Whether ``path`` is an HDF5 file written by :class:`SessionFile` (``False`` when it is
    another HDF5 file or not HDF5 at all)."""
    try:
        with open_for_reading(path) as handle:
            return bool(handle.attrs.get("format") == FORMAT)
    except OSError:
        return False


def read_session(path: Path | str, tables: tuple[str, ...] = TABLES) -> SessionData:
    """Read a session file written by :class:`SessionFile` (also one still being written).

    Parameters
    ----------
    path
        The ``.h5`` file.
    tables
        The tables to read (the attributes are always read).

    Raises
    ------
    DataFormatError
        When the file cannot be read or is not an rtdecode session file.
    """
    path = Path(path)
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown session table(s) {unknown}; the tables are {list(TABLES)}")
    try:
        with open_for_reading(path) as handle:
            if handle.attrs.get("format") != FORMAT:
                raise DataFormatError(f"{path} is not an rtdecode session file")
            attrs: dict[str, Any] = {}
            for name, value in handle.attrs.items():
                attrs[name] = json.loads(value) if name in _JSON_ATTRS else value
            read = {name: _read_table(handle, name) for name in tables}
    except OSError as exc:
        raise DataFormatError(f"cannot read session file {path} ({exc})") from exc
    states = tuple(str(s) for s in attrs.pop("states", ()))
    return SessionData(path, states, attrs=attrs, **read)


def _read_table(handle: h5py.File, name: str) -> dict[str, np.ndarray]:
    """One group's columns (text as ``str``); empty when the file has no such group."""
    if name not in handle:
        return {}
    table = {}
    for column, dataset in handle[name].items():
        data = dataset[:]
        table[column] = data.astype(str) if data.dtype.kind == "S" else data
    return table
