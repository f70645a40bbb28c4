"""A behaviour stream of its own (``--behavior-source``), read on a thread into a track."""

from __future__ import annotations

import math
import threading

from rtdecode.errors import SourceError
from rtdecode.log import get_logger
from rtdecode.stream._behavior import BehaviorTrack
from rtdecode.stream._lsl_source import LslSource
from rtdecode.stream._open import open_source
from rtdecode.stream._protocol import MalformedMessage, check_behavior_values
from rtdecode.stream._source import Chunk, Source

__all__ = ["BehaviorReceiver"]

_log = get_logger(__name__)


class BehaviorReceiver:
    """Read behaviour from its own stream into a :class:`BehaviorTrack`, on a thread.

    Parameters
    ----------
    uri
        ``zmq+tcp://``, ``zmq+ipc://`` (``behavior`` messages of wire protocol v1) or
        ``lsl://NAME`` (a numeric LSL stream whose channels are labelled ``velocity`` and/or
        ``reversal``; its time stamps must be on the frames' clock, as LSL's are on one
        machine).
    track
        Where the samples go.
    resolve_timeout
        Seconds to look for an LSL stream.

    Notes
    -----
    Frames or anything else on a behaviour socket are counted in the track as malformed.
    LSL has no sequence numbers: samples are numbered as they arrive.
    """

    def __init__(self, uri: str, track: BehaviorTrack, resolve_timeout: float = 10.0) -> None:
        self.uri = uri
        self.track = track
        track.uri = uri
        self._source: Source = open_source(uri, resolve_timeout=resolve_timeout)
        self._columns: tuple[int | None, int | None] = (None, None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect (an LSL stream is resolved here, and its labels checked) and start reading."""
        source = self._source
        source.behavior = self.track
        source.start()
        if isinstance(source, LslSource):
            labels = source.labels or ()
            velocity = labels.index("velocity") if "velocity" in labels else None
            reversal = labels.index("reversal") if "reversal" in labels else None
            if velocity is None and reversal is None:
                source.stop()
                raise SourceError(
                    f"behaviour stream '{self.uri}' has channels labelled {list(labels)}; label "
                    "them 'velocity' (mm/s) and/or 'reversal' (0/1) in desc/channels"
                )
            self._columns = (velocity, reversal)
        self._thread = threading.Thread(target=self._run, name="rtdecode-behavior", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        source, track = self._source, self.track
        try:
            while not self._stop.is_set():
                chunk = source.read(0.05)
                if chunk is not None:
                    self._take(chunk)
                for reason, count in source.malformed.items():
                    track.count_malformed(reason, "not a behaviour message", count)
                source.malformed.clear()
        except Exception:  # a broken reader must say so, not vanish
            _log.exception("behaviour stream '%s' stopped being read", self.uri)
            raise

    def _take(self, chunk: Chunk) -> None:
        track = self.track
        velocity_col, reversal_col = self._columns
        if not isinstance(self._source, LslSource):
            track.count_malformed("topic", "a frame message on the behaviour socket")
            return
        for i in range(chunk.n_frames):
            row = chunk.data[i]
            velocity = math.nan if velocity_col is None else float(row[velocity_col])
            reversal = math.nan if reversal_col is None else float(row[reversal_col])
            try:
                check_behavior_values(velocity, reversal)
            except MalformedMessage as exc:
                track.count_malformed(exc.reason, exc.detail)
                continue
            track.add(chunk.seq + i, float(chunk.t[i]), velocity, reversal)

    def stop(self) -> None:
        """Stop reading and disconnect; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self._source.stop()

    def __enter__(self) -> BehaviorReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
