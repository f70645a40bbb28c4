"""The :class:`FairShare`: one stream's bounded queue, so that a flooding stream costs the
others nothing.

A loop serving several streams gives each, in turn, what its source has. A stream whose
producer floods large frames would otherwise fill ZeroMQ's queue (a thousand messages) and the
kernel's buffers, and every turn would preprocess a long run of its frames while the other
streams wait; the backlog then takes seconds to drain after the flood. Here each stream's
frames are drained from its source into a queue bounded in bytes that drops the *oldest*
frames (the decoder wants the newest window), and a turn hands over at most a few chunks.
What the bound discards is counted (``dropped_oldest`` in the source's stats, per stream) and
shows in the stream's ``seq`` gaps too; what ZeroMQ discarded before (its high-water mark)
shows only there (the run's summary names it ``dropped_in_transport``).

A ZeroMQ source is bounded too (:meth:`ZmqSource.bound_bytes`: its receive high-water mark
holds about ``max_bytes``), so that a flood's excess is discarded in ZeroMQ's own threads; and its messages are queued unparsed (:class:`~rtdecode.stream.RawReader`): only
those handed over are parsed, those dropped have only their header's frame count read.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from rtdecode.stream._source import Chunk, RawMessage, RawReader, Source

__all__ = ["FairShare"]

_DRAIN_CHUNKS = 64
_DRAIN_SHARES = 4
"""A turn reads at most this many turns' shares of bytes out of the source (and at most
``_DRAIN_CHUNKS`` chunks): reading a flood's frames only to drop them as the oldest was half
of its turn's work (32 frames of 2048 neurons a turn, not 64, still keep up with 1 kHz)."""


class FairShare(Source):
    """Reads ``source`` into a queue of at most ``max_bytes`` that drops the oldest chunks.

    Parameters
    ----------
    source
        The stream's source (not started).
    max_bytes
        Most bytes of frame data waiting; beyond it the oldest chunks are dropped (the newest
        chunk is always kept, whatever its size).
    turn_bytes
        Most bytes :meth:`read` hands over between two calls of :meth:`new_turn` (the first
        chunk of a turn whatever its size).

    Attributes
    ----------
    dropped_chunks, dropped_frames
        Chunks and frames the bound discarded.
    left_at_stop
        Frames still queued when the source was stopped (never decoded).
    """

    waitable = True
    QUEUE_BYTES = 1 << 20
    """Default bound: 1 MiB (128 frames of 2048 neurons; one frame always fits)."""
    TURN_BYTES = 64 << 10
    """Default share of a turn (at least one chunk): 8 frames of 2048 neurons, 160 of 100;
    preprocessing costs about in proportion."""

    def __init__(
        self,
        source: Source,
        max_bytes: int = QUEUE_BYTES,
        turn_bytes: int = TURN_BYTES,
    ) -> None:
        super().__init__()
        if max_bytes < 1 or turn_bytes < 1:
            raise ValueError(
                f"FairShare needs max_bytes >= 1 and turn_bytes >= 1, got {max_bytes} "
                f"and {turn_bytes}"
            )
        self.source = source
        self.uri = source.uri
        self.malformed = source.malformed  # the inner source counts into the same Counter
        self.max_bytes = max_bytes
        self.turn_bytes = turn_bytes
        self.dropped_chunks = self.dropped_frames = self.left_at_stop = 0
        self._reader = source if isinstance(source, RawReader) else None
        bound = getattr(source, "bound_bytes", None)
        if callable(bound):
            bound(max_bytes)
        self._queue: deque[Chunk | RawMessage] = deque()
        self._bytes = 0
        self._handed = 0
        self._drained = self._drained_bytes = 0

    def start(self) -> None:
        """Start the inner source."""
        self.source.start()

    def new_turn(self) -> None:
        """A new turn of the loop: this stream may hand over ``turn_bytes`` again."""
        self._handed = self._drained = self._drained_bytes = 0

    @property
    def buffered(self) -> bool:
        """Whether chunks wait in the queue and this turn may still hand one over."""
        return bool(self._queue) and self._handed < self.turn_bytes

    def read(self, timeout: float) -> Chunk | None:
        """The oldest chunk kept, after taking what the inner source has; ``None`` when none
        came within ``timeout`` seconds or this turn has had its share."""
        self._drain()
        deadline = time.monotonic() + timeout
        while self._handed < self.turn_bytes:
            if not self._queue:
                item = self._next(max(0.0, deadline - time.monotonic()))
                if item is None:
                    return None
                self._keep(item)
                self._drain()
            item = self._queue.popleft()
            size = _size(item)
            self._bytes -= size
            self._handed += max(size, 1)
            if isinstance(item, Chunk):
                return item
            assert self._reader is not None
            chunk = self._reader.parse_raw(item)
            if chunk is not None:
                return chunk
            # a malformed message (counted by the source): the next one, within the timeout
        return None

    def _next(self, timeout: float) -> Chunk | RawMessage | None:
        if self._reader is not None:
            return self._reader.read_raw(timeout)
        return self.source.read(timeout)

    def _drain(self) -> None:
        """Move what the inner source has now into the queue (at most ``_DRAIN_CHUNKS`` chunks
        and ``_DRAIN_SHARES`` shares of bytes a turn, so that a turn's work stays bounded
        however fast the producer sends; beyond, the inner source's own queue holds them, and
        its losses show as gaps)."""
        if self._handed >= self.turn_bytes:
            return
        budget = _DRAIN_SHARES * self.turn_bytes
        while self._drained < _DRAIN_CHUNKS and self._drained_bytes < budget:
            item = self._next(0.0)
            if item is None:
                return
            self._keep(item)

    def _keep(self, item: Chunk | RawMessage) -> None:
        """Queue ``item`` (a copy of a chunk: sources may reuse their arrays), read this turn;
        drop the oldest over the bound."""
        if isinstance(item, Chunk):
            item = Chunk(
                item.data.copy(), item.seq, item.t.copy(), item.recv_ns, item.labels, item.sent_ns
            )
        size = _size(item)
        self._drained += 1
        self._drained_bytes += size
        self._queue.append(item)
        self._bytes += size
        while self._bytes > self.max_bytes and len(self._queue) > 1:
            old = self._queue.popleft()
            self._bytes -= _size(old)
            self.dropped_chunks += 1
            self.dropped_frames += self._frames(old)

    def _frames(self, item: Chunk | RawMessage) -> int:
        if isinstance(item, Chunk):
            return item.n_frames
        assert self._reader is not None
        return self._reader.frames_in(item)

    def stats(self) -> dict[str, Any]:
        """The inner source's figures, with the frames the bound dropped (``dropped_oldest``)
        and those still queued at the stop (``left_at_stop``)."""
        return {
            **self.source.stats(),
            "dropped_oldest": self.dropped_frames,
            "left_at_stop": self.left_at_stop,
        }

    @property
    def wait_socket(self) -> Any:
        """The inner source's socket (chunks already queued: see :attr:`buffered`)."""
        return self.source.wait_socket

    @property
    def finished(self) -> bool:
        """True once the inner source is finished and nothing is left in the queue."""
        return self.source.finished and not self._queue

    def interrupt(self) -> None:
        """Interrupt the inner source (thread- and signal-safe)."""
        self.interrupted = True
        self.source.interrupt()

    def stop(self) -> None:
        """Stop the inner source; what is still queued is let go (``left_at_stop``)."""
        self.left_at_stop += sum(self._frames(item) for item in self._queue)
        self._queue.clear()
        self._bytes = 0
        self.source.stop()


def _size(item: Chunk | RawMessage) -> int:
    """Bytes of frame data (a raw message's payload, its last part)."""
    return item.data.nbytes if isinstance(item, Chunk) else len(item.parts[-1])
