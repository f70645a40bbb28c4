"""The :class:`Runner`: one loop for one live stream or several, one engine, one thread.

Each stream is a :class:`~rtdecode.live.StreamProcessor` with its own source, window,
preprocessing state, engine buffers (:meth:`Engine.for_stream` with several), chain, counters
and latency; the runner only schedules them. How it waits for frames is a *wait strategy*:

- :class:`ReadOne` (one stream, the fast path): the loop blocks in the source's own read, so a
  frame is taken the moment it arrives, with no poll in front of it;
- :class:`PollAll` (several streams): one wait on every source at once (their ZeroMQ sockets
  in one poller; a source without a socket, such as an LSL inlet, which can block in a look-up,
  is read on a thread of its own, :class:`~rtdecode.stream.ThreadedSource`);
- :class:`BusyPoll` (``busy_poll``): no wait at all, one busy core.

Fairness (several streams): each live source (not a file replayed, which is lossless) is read
through a
:class:`~rtdecode.stream.FairShare`, a queue bounded in bytes that drops the oldest frames
(counted per stream as ``dropped_oldest``); each turn of the loop, every stream takes at most
its share (``turn_bytes``, at least one chunk) and decodes at most one window before the others
have had their turn, and the stream served first rotates. A stream flooding large frames thus
loses its own oldest frames instead of delaying the others. Within a turn the ready windows are
decoded cheapest first (by each stream's last decode time): every ready stream still gets its
one decode, but a 130-neuron window no longer waits behind a 2048-neuron one (6 ms, which
cannot be cut short).

The windows ready after a wait are decoded as one batch: in one call
(:meth:`Engine.infer_batch`) before publishing each stream's prediction where the engine stacks
windows (torch), otherwise back to back, each published as soon as its forward is done (numba:
one call over several windows gains nothing there, and the first stream would wait for all).
What is off the critical path (each frame's session-file row, self-calibration's learning,
the taps) waits until every stream of the batch has published.

Isolation: with several streams, a stream whose source, preprocessing or engine raises is
stopped, logged and reported (``failed`` in its summary); its chain is closed with its summary
and the other streams go on. With one stream the error ends the run and is raised.
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

from rtdecode.live._cadence import Cadence
from rtdecode.live._processor import StreamProcessor
from rtdecode.log import get_logger
from rtdecode.stream import FairShare, ThreadedSource

if TYPE_CHECKING:
    from rtdecode.engines import Engine

__all__ = ["BusyPoll", "PollAll", "ReadOne", "Runner", "WaitStrategy"]

_log = get_logger(__name__)

_RECHECK_NS = 500_000
"""Before a decode that took longer than this (0.5 ms; a 2048-neuron window takes about 6 ms
with numba, 130 neurons 0.05 ms), the cheaper streams are looked at again."""
_GRACE_NS = 5_000_000
"""How late (5 ms) a cheaper stream's due frame may be before a long decode stops waiting (a
producer's own timing wavers by a few milliseconds; at 2 ms, a calm frame was waited for and
then met the long decode anyway more often: 8-12 % of a calm stream's frames over 4 ms under
a full-speed flood, against 1-7 % now)."""


class WaitStrategy:
    """How the runner waits for frames; :meth:`take` lets the streams with frames take them."""

    idle_ticks = False
    """Whether the runner must give each stream its idle tick (a wait that does not pass
    through the stream's own read never idles it)."""

    def take(self, runner: Runner) -> bool:
        """Wait (or not), let streams take what their sources have; whether any took."""
        raise NotImplementedError

    def reset(self) -> None:
        """The set of active streams changed."""


class ReadOne(WaitStrategy):
    """One stream: wait inside its source's read, up to its idle tick."""

    def take(self, runner: Runner) -> bool:
        index = runner.active[0]
        stream = runner.streams[index]
        return bool(runner.guard(index, partial(stream.take, stream.idle_timeout)))


class BusyPoll(WaitStrategy):
    """Spin: every stream reads without waiting, every turn of the loop."""

    def take(self, runner: Runner) -> bool:
        runner.new_turn()
        return runner.take_from(runner.turn_order())


class PollAll(WaitStrategy):
    """Several streams: one poll over every source's socket, at most the shortest idle tick."""

    idle_ticks = True

    def __init__(self) -> None:
        self._poller: zmq.Poller | None = None
        self._timeout_ms = 0
        self._sockets: dict[Any, int] = {}

    def reset(self) -> None:
        self._poller = None

    def take(self, runner: Runner) -> bool:
        runner.new_turn()
        if self._poller is None:  # made again whenever a stream stops
            self._poller = zmq.Poller()
            streams = [runner.streams[i] for i in runner.active]
            self._timeout_ms = math.ceil(min(s.idle_timeout for s in streams) * 1e3)
            self._sockets = {}
            for index in runner.active:
                socket = runner.streams[index].source.wait_socket
                self._poller.register(socket, zmq.POLLIN)
                self._sockets[socket] = index
        queued = {i for i in runner.active if runner.queued(i)}
        events = self._poller.poll(0 if queued else self._timeout_ms)
        readable = queued | {self._sockets[socket] for socket, _ in events}
        return runner.take_from([i for i in runner.turn_order() if i in readable])


class Runner:
    """Runs one or several :class:`StreamProcessor` streams in one loop (see the module notes).

    Parameters
    ----------
    streams
        One processor per stream; with several, each with its own engine from
        :meth:`Engine.for_stream` of ``engine``.
    engine
        The engine that decodes every batch.
    busy_poll
        Spin on the sources instead of sleeping.
    on_status
        Called with the runner about every ``status_every_s`` seconds, between frames.
    status_every_s
        Seconds between ``on_status`` calls.
    queue_bytes, turn_bytes
        Several streams: each stream's bound in bytes (drop-oldest) and share of one turn
        (see :class:`~rtdecode.stream.FairShare`).
    on_open
        Called with a stream's index (0-based) and processor once it opened: its sinks open,
        its source started.

    Attributes
    ----------
    failed
        Stream index (0-based) -> why it stopped, for streams that failed.
    batches
        Batches decoded, by size (windows in the batch -> count).
    active
        Indices of the streams still running.
    """

    def __init__(
        self,
        streams: Sequence[StreamProcessor],
        engine: Engine,
        *,
        busy_poll: bool = False,
        on_status: Callable[[Runner], None] | None = None,
        status_every_s: float = 1.0,
        queue_bytes: int = FairShare.QUEUE_BYTES,
        turn_bytes: int = FairShare.TURN_BYTES,
        on_open: Callable[[int, StreamProcessor], None] | None = None,
    ) -> None:
        self.streams = list(streams)
        self.several = len(self.streams) > 1
        self.wait: WaitStrategy = (
            BusyPoll() if busy_poll else PollAll() if self.several else ReadOne()
        )
        if isinstance(self.wait, PollAll):
            for stream in self.streams:
                lossless = stream.source.lossless
                if not stream.source.waitable:
                    stream.source = ThreadedSource(stream.source)
                if not lossless:  # a file replayed: every frame kept, as before
                    stream.source = FairShare(stream.source, queue_bytes, turn_bytes)
        self.engine = engine
        self.on_status = on_status
        self.status_every_s = status_every_s
        self.on_open = on_open
        self.failed: dict[int, str] = {}
        self.batches: dict[int, int] = {}
        self.active: list[int] = []
        self._summaries: dict[int, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._started = 0.0
        self._elapsed = 0.0
        self._turns = 0
        self._cost_ns = [0] * len(self.streams)  # each stream's last decode, cheapest first
        self._cadences = [Cadence() for _ in self.streams]  # when each one's frames come

    def stop(self) -> None:
        """Ask :meth:`run` to finish after the frames in hand (thread- and signal-safe); a
        source still looking for its stream gives up."""
        self._stop.set()
        for stream in self.streams:
            stream.source.interrupt()

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
                self.guard(index, self.streams[index].open)
                if index not in self.failed:
                    self.active.append(index)
                    if self.on_open is not None:
                        self.on_open(index, self.streams[index])
            self._loop()
        finally:
            for index in list(self.active):
                self._close(index)
            self._elapsed = time.monotonic() - self._started
        return self.summary()

    def _loop(self) -> None:
        next_status = time.monotonic() + self.status_every_s
        next_idle = [0.0] * len(self.streams)
        while self.active and not self._stop.is_set():
            if self.wait.take(self):
                self._decode_ready()
            if self.wait.idle_ticks:
                # Idle work (sink flushes, keep-warm passes, a look at a silent connection)
                # comes after the waiting windows are published, each stream at its own tick.
                now = time.monotonic()
                due = [i for i in self.active if now >= next_idle[i]]
                for index in due:
                    next_idle[index] = now + self.streams[index].idle_timeout
                if self.take_from(due):
                    self._decode_ready()
            for index in list(self.active):
                stream = self.streams[index]
                self.guard(index, stream.drain_behavior)
                if index in self.active and stream.finished:
                    self._close(index)
            if self.on_status is not None and time.monotonic() >= next_status:
                next_status = time.monotonic() + self.status_every_s
                self.on_status(self)

    def new_turn(self) -> None:
        """Start a turn: every stream may take its share again; the first served rotates."""
        self._turns += 1
        for index in self.active:
            source = self.streams[index].source
            if isinstance(source, FairShare):
                source.new_turn()

    def queued(self, index: int) -> bool:
        """Whether this stream's fair-share queue holds frames it may take this turn."""
        source = self.streams[index].source
        return isinstance(source, FairShare) and source.buffered

    def turn_order(self) -> list[int]:
        """The active streams, starting one further along each turn."""
        start = self._turns % len(self.active) if self.active else 0
        return self.active[start:] + self.active[:start]

    def take_from(self, indices: list[int]) -> bool:
        """Let these streams take what their sources have without waiting; whether any took."""
        took = False
        for index in indices:
            took |= self._take(index)
        return took

    def _take(self, index: int) -> bool:
        """Let one stream take what its source has; keep when frames come and how often."""
        if not self.guard(index, partial(self.streams[index].take, 0.0)):
            return False
        self._cadences[index].taken(time.perf_counter_ns())
        return True

    def _decode_ready(self) -> None:
        """Decode every window that is ready (see the module notes) and publish each prediction."""
        if not self.several:  # the one-stream fast path: nothing to batch or to wait for
            self.streams[self.active[0]].decode_pending()
            return
        ready: list[int] = []
        jobs: list[tuple[Engine, Any, Any]] = []
        for index in self.turn_order():
            stream = self.streams[index]
            window = self.guard(index, stream.batch_input)
            if window is not None and index in self.active:
                ready.append(index)
                jobs.append((stream.engine, *window))
        if not jobs:
            return
        self.batches[len(jobs)] = self.batches.get(len(jobs), 0) + 1
        if not self.engine.stacks_batches:  # back to back: publish each as soon as it is ready
            ready = self._decode_cheapest_first(ready)
        else:
            self._decode_stacked(ready, jobs)
        # Every stream of the batch has published: now each frame's rows and learning.
        for index in ready:
            if index in self.active:
                self.guard(index, self.streams[index].record_published)

    def _decode_cheapest_first(self, ready: list[int]) -> list[int]:
        """Decode the ready windows one by one, cheapest first (by each stream's last decode).

        Before a long decode (over ``_RECHECK_NS``), a cheaper stream whose frame is due
        within it (from its past arrivals) is waited for, once a turn and at most until it is
        ``_GRACE_NS`` late; then every cheaper stream whose frame came meanwhile is decoded
        first. Returns the streams whose published frame waits for :meth:`record_published`.
        """
        waiting = sorted(ready, key=self._cost_ns.__getitem__)  # stable: ties in turn order
        unrecorded: list[int] = []
        waited = False
        while waiting:
            index = waiting[0]
            if self._cost_ns[index] > _RECHECK_NS:
                waited = waited or self._wait_for_due(index)
                if self._late_windows(waiting, unrecorded):
                    continue  # the newcomers are in ``waiting``, cheapest first
            waiting.pop(0)
            started = time.perf_counter_ns()
            self.guard(index, partial(self.streams[index].decode_pending, record=False))
            self._cost_ns[index] = time.perf_counter_ns() - started
            if index not in unrecorded:
                unrecorded.append(index)
        return unrecorded

    def _late_windows(self, waiting: list[int], unrecorded: list[int]) -> bool:
        """Let the streams cheaper than the next decode take what came since the turn began;
        queue those now with a window, cheapest first. Whether any was queued."""
        next_cost = self._cost_ns[waiting[0]]
        late = []
        for i in self.turn_order():
            if i in waiting or self._cost_ns[i] >= next_cost or not self._has_input(i):
                continue
            if i in unrecorded:  # its published frame is recorded before new frames come in
                unrecorded.remove(i)
                self.guard(i, self.streams[i].record_published)
            if self._take(i) and self.guard(i, self.streams[i].batch_input) is not None:
                late.append(i)
        late = [i for i in late if i in self.active]
        waiting[:] = sorted(late + waiting, key=self._cost_ns.__getitem__)
        return bool(late)

    def _has_input(self, index: int) -> bool:
        """Whether a stream has frames waiting (in its fair share's queue or its socket)."""
        if index not in self.active:
            return False
        if self.queued(index):
            return True
        socket = self.streams[index].source.wait_socket
        return socket is not None and bool(socket.poll(0, zmq.POLLIN))

    def _wait_for_due(self, index: int) -> bool:
        """Before ``index``'s long decode: wait, idle, for the frames of cheaper, slower
        streams that are due before it would end. Whether any was due."""
        cost, now = self._cost_ns[index], time.perf_counter_ns()
        due: dict[Any, int] = {}
        for i in self.active:
            cadence = self._cadences[i]
            if i == index or self._cost_ns[i] >= cost or cadence.interval_ns < 2 * cost:
                continue  # a stream faster than two long decodes would hold them off
            expected = cadence.next_ns
            if now - _GRACE_NS < expected < now + cost:
                due[self.streams[i].source.wait_socket] = expected
        due.pop(None, None)
        if not due:
            return False
        poller = zmq.Poller()
        for socket in due:
            poller.register(socket, zmq.POLLIN)
        until = max(due.values()) + _GRACE_NS
        while due and (left := until - time.perf_counter_ns()) > 0:
            for socket, _ in poller.poll(-(-left // 1_000_000)):
                poller.unregister(socket)
                del due[socket]
        return True

    def _decode_stacked(self, ready: list[int], jobs: list[tuple[Engine, Any, Any]]) -> None:
        """One forward over every ready window, then each stream publishes its part."""
        results: list[np.ndarray | None]
        try:
            results = list(self.engine.infer_batch(jobs))
        except Exception:  # a stream's window broke the batch: decode each alone
            _log.warning("a batch of %d windows failed; decoding each alone", len(jobs))
            results = [None] * len(jobs)
        inferred_ns = time.perf_counter_ns()
        for index, probs in zip(ready, results, strict=True):
            stream = self.streams[index]
            self.guard(
                index,
                partial(stream.decode_pending, record=False)
                if probs is None
                else partial(stream.publish, probs, inferred_ns, record=False),
            )

    def guard(self, index: int, step: Callable[[], Any]) -> Any:
        """Run one stream's ``step``; with several streams, if it raises, fail that stream
        alone and return ``None`` (with one, the error ends the run)."""
        if not self.several:
            return step()
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
        """Close one stream (its source and chain) and keep its summary."""
        if index in self.active:
            self.active.remove(index)
            self.wait.reset()
        stopped = self._stop.is_set()
        if not self.several:
            self._summaries[index] = self.streams[index].close(stopped)
            return
        try:
            self._summaries[index] = self.streams[index].close(stopped)
        except Exception as exc:  # closing a broken stream must not stop the others
            self.failed.setdefault(index, f"{type(exc).__name__}: {exc}")
            _log.error("stream %d: closing failed: %s", index + 1, exc)
            self._summaries[index] = self.streams[index].summary()

    def summary(self) -> dict[str, Any]:
        """One stream: its summary. Several: every stream's (with ``stream`` 1-based and
        ``failed``) and the totals."""
        streams = [self._summaries.get(i) or s.summary() for i, s in enumerate(self.streams)]
        if not self.several:
            return streams[0]
        streams = [
            {"stream": i + 1, **summary, **_drops(summary), "failed": self.failed.get(i)}
            for i, summary in enumerate(streams)
        ]
        frames = sum(s["frames"] for s in streams)
        return {
            "engine": self.engine.name,
            "streams": streams,
            "frames": frames,
            "predictions": sum(s["predictions"] for s in streams),
            "skipped": sum(s["skipped"] for s in streams),
            "missing_frames": sum(s["missing_frames"] for s in streams),
            "dropped_oldest": sum(s["dropped_oldest"] for s in streams),
            "dropped_in_transport": sum(s["dropped_in_transport"] for s in streams),
            "malformed_total": sum(s["malformed_total"] for s in streams),
            "failed": {str(i + 1): why for i, why in sorted(self.failed.items())},
            "batches": {str(size): n for size, n in sorted(self.batches.items())},
            "duration_s": round(self._elapsed, 3),
            "frames_per_s": round(frames / self._elapsed, 2) if self._elapsed > 0 else 0.0,
        }


def _drops(summary: dict[str, Any]) -> dict[str, int]:
    """Where a stream's missing frames were lost: ``dropped_oldest`` by its fair-share bound,
    ``dropped_in_transport`` before the decoder read them (ZeroMQ's queues at either end,
    the kernel's buffers: only their ``seq`` gaps show them)."""
    oldest = int(summary.get("source_stats", {}).get("dropped_oldest", 0))
    return {
        "dropped_oldest": oldest,
        "dropped_in_transport": max(0, int(summary["missing_frames"]) - oldest),
    }
