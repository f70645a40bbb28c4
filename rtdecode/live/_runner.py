"""The :class:`StreamSet`: several live streams decoded by one process, one engine, one thread.

Each stream is a :class:`~rtdecode.live._processor.Pipeline` with its own source, window,
preprocessing state, engine buffers (:meth:`Engine.for_stream`), sinks, counters and latency;
the set only schedules them. One loop waits on every source at once (their ZeroMQ sockets in
one poller; a source without a socket, such as an LSL inlet, which can block in a look-up, is
read on a thread of its own, :class:`~rtdecode.stream._threaded.ThreadedSource`), takes what
each stream has, and decodes the windows that are then ready as one batch: in one call
(:meth:`Engine.infer_batch`) before publishing each stream's prediction where the engine stacks
windows (torch), otherwise back to back, each published as soon as its forward is done (numba:
one call over several windows gains nothing there, and the first stream would wait for all).
What is off the critical path (each frame's session-file row, self-calibration's learning)
waits until every stream of the batch has published.

Isolation: a stream whose source, preprocessing or engine raises is stopped, logged and
reported (``failed`` in its summary); its sinks are closed with its summary and the other
streams go on. A stream that stalls costs the others nothing: no read waits on it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import zmq

from rtdecode.live._processor import Pipeline
from rtdecode.log import get_logger
from rtdecode.stream._threaded import ThreadedSource

if TYPE_CHECKING:
    from rtdecode.engines import Engine

__all__ = ["StreamSet"]

_log = get_logger(__name__)


class StreamSet:
    """Runs several :class:`Pipeline` streams in one loop, decoding ready windows in batches.

    Parameters
    ----------
    streams
        One pipeline per stream, each with its own engine from :meth:`Engine.for_stream` of
        ``engine`` (their ``on_status``, ``busy_poll`` and ``status_every_s`` are not used).
    engine
        The engine the streams' engines come from: it decodes every batch.
    busy_poll
        Spin on the sources instead of sleeping.
    on_status
        Called with the set about every ``status_every_s`` seconds, between frames.
    status_every_s
        Seconds between ``on_status`` calls.

    Attributes
    ----------
    failed
        Stream index (0-based) -> why it stopped, for streams that failed.
    batches
        Batches decoded, by size (windows in the batch -> count).
    """

    def __init__(
        self,
        streams: Sequence[Pipeline],
        engine: Engine,
        *,
        busy_poll: bool = False,
        on_status: Callable[[StreamSet], None] | None = None,
        status_every_s: float = 1.0,
    ) -> None:
        self.streams = list(streams)
        for stream in self.streams:
            if not stream.source.waitable:
                stream.source = ThreadedSource(stream.source)
        self.engine = engine
        self.busy_poll = busy_poll
        self.on_status = on_status
        self.status_every_s = status_every_s
        self.failed: dict[int, str] = {}
        self.batches: dict[int, int] = {}
        self._summaries: dict[int, dict[str, Any]] = {}
        self._active: list[int] = []
        self._poller: zmq.Poller | None = None
        self._timeout_s = 0.0
        self._sockets: dict[Any, int] = {}
        self._stop = threading.Event()
        self._started = 0.0
        self._elapsed = 0.0

    def stop(self) -> None:
        """Ask :meth:`run` to finish after the frames in hand (thread- and signal-safe)."""
        self._stop.set()

    def run(self) -> dict[str, Any]:
        """Run until :meth:`stop` or until every stream has finished or failed.

        Returns
        -------
        dict
            The summary (see :meth:`summary`); each stream's own summary also went to its
            sinks' ``close``.
        """
        self._started = time.monotonic()
        try:
            for index in range(len(self.streams)):
                self._guard(index, self.streams[index].open)
                if index not in self.failed:
                    self._active.append(index)
            self._loop()
        finally:
            for index in list(self._active):
                self._close(index)
            self._elapsed = time.monotonic() - self._started
        return self.summary()

    def _loop(self) -> None:
        next_status = time.monotonic() + self.status_every_s
        next_idle = [0.0] * len(self.streams)
        while self._active and not self._stop.is_set():
            readable = self._wait()
            self._take([i for i in self._active if readable is None or i in readable])
            # Idle work (sink flushes, keep-warm passes, a look at a silent connection) comes
            # after the waiting windows are published, for each stream at its own idle tick.
            now = time.monotonic()
            due = [i for i in self._active if now >= next_idle[i]]
            for index in due:
                next_idle[index] = now + self.streams[index].idle_timeout
            self._take(due)
            for index in list(self._active):
                stream = self.streams[index]
                self._guard(index, stream.drain_behavior)
                if index in self._active and stream.finished:
                    self._close(index)
            if self.on_status is not None and time.monotonic() >= next_status:
                next_status = time.monotonic() + self.status_every_s
                self.on_status(self)

    def _take(self, indices: list[int]) -> None:
        """Let these streams take what their sources have, then decode what is ready."""
        took = False
        for index in indices:
            took |= bool(self._guard(index, partial(self.streams[index].take, 0.0)))
        if took:
            self._decode_ready()

    def _wait(self) -> set[int] | None:
        """Wait until a source may have frames (at most the streams' idle tick).

        Returns
        -------
        set of int or None
            The streams whose socket is readable, or ``None`` for all (busy polling).
        """
        if self.busy_poll:
            return None
        if self._poller is None:  # made again whenever a stream stops
            self._poller = zmq.Poller()
            self._timeout_s = min(self.streams[i].idle_timeout for i in self._active)
            self._sockets = {}
            for index in self._active:
                socket = self.streams[index].source.wait_socket
                self._poller.register(socket, zmq.POLLIN)
                self._sockets[socket] = index
        events = self._poller.poll(math.ceil(self._timeout_s * 1e3))
        return {self._sockets[socket] for socket, _ in events}

    def _decode_ready(self) -> None:
        """Decode every window that is ready (see the module notes) and publish each prediction."""
        ready: list[int] = []
        jobs: list[tuple[Engine, Any, Any]] = []
        for index in list(self._active):
            stream = self.streams[index]
            window = self._guard(index, stream.batch_input)
            if window is not None and index in self._active:
                ready.append(index)
                jobs.append((stream.engine, *window))
        if not jobs:
            return
        self.batches[len(jobs)] = self.batches.get(len(jobs), 0) + 1
        if not self.engine.stacks_batches:  # back to back: publish each as soon as it is ready
            for index in ready:
                self._guard(index, partial(self.streams[index].decode_pending, record=False))
        else:
            results: list[np.ndarray | None]
            try:
                results = list(self.engine.infer_batch(jobs))
            except Exception:  # a stream's window broke the batch: decode each alone
                _log.warning("a batch of %d windows failed; decoding each alone", len(jobs))
                results = [None] * len(jobs)
            inferred_ns = time.perf_counter_ns()
            for index, probs in zip(ready, results, strict=True):
                stream = self.streams[index]
                self._guard(
                    index,
                    partial(stream.decode_pending, record=False)
                    if probs is None
                    else partial(stream.publish, probs, inferred_ns, record=False),
                )
        # Every stream of the batch has published: now each frame's rows and learning.
        for index in ready:
            if index in self._active:
                self._guard(index, self.streams[index].record_published)

    def _guard(self, index: int, step: Callable[[], Any]) -> Any:
        """Run one stream's ``step``; if it raises, fail that stream alone and return ``None``."""
        try:
            return step()
        except Exception as exc:  # any failure of one stream must not reach the others
            self._fail(index, exc)
            return None

    def _fail(self, index: int, exc: Exception) -> None:
        stream = self.streams[index]
        self.failed[index] = f"{type(exc).__name__}: {exc}"
        _log.error(
            "stream %d (%s) failed and was stopped; the other streams go on: %s",
            index + 1,
            stream.source.uri,
            exc,
            exc_info=exc,
        )
        if index not in self._summaries:  # also one that failed to open: close what it opened
            self._close(index)

    def _close(self, index: int) -> None:
        """Close one stream (its source and sinks) and keep its summary."""
        if index in self._active:
            self._active.remove(index)
            self._poller = None
        try:
            self._summaries[index] = self.streams[index].close()
        except Exception as exc:  # closing a broken stream must not stop the others
            self.failed.setdefault(index, f"{type(exc).__name__}: {exc}")
            _log.error("stream %d: closing failed: %s", index + 1, exc)
            self._summaries[index] = self.streams[index].summary()

    def summary(self) -> dict[str, Any]:
        """Every stream's summary (with ``stream`` 1-based and ``failed``) and the totals."""
        streams = []
        for index, stream in enumerate(self.streams):
            summary = self._summaries.get(index) or stream.summary()
            summary = {"stream": index + 1, **summary, "failed": self.failed.get(index)}
            streams.append(summary)
        frames = sum(s["frames"] for s in streams)
        return {
            "engine": self.engine.name,
            "streams": streams,
            "frames": frames,
            "predictions": sum(s["predictions"] for s in streams),
            "skipped": sum(s["skipped"] for s in streams),
            "missing_frames": sum(s["missing_frames"] for s in streams),
            "malformed_total": sum(s["malformed_total"] for s in streams),
            "failed": {str(i + 1): why for i, why in sorted(self.failed.items())},
            "batches": {str(size): n for size, n in sorted(self.batches.items())},
            "duration_s": round(self._elapsed, 3),
            "frames_per_s": round(frames / self._elapsed, 2) if self._elapsed > 0 else 0.0,
        }
