"""The :class:`Source` interface and the :class:`Chunk` it yields."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from rtdecode.stream._behavior import BehaviorTrack

__all__ = ["Chunk", "RawMessage", "RawReader", "Source"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """``k`` consecutive frames of one stream, as one source delivered them.

    Attributes
    ----------
    data
        ``(k, n)`` float32 values (NaN/inf allowed: they are data, masked downstream).
    seq
        Sequence number of the first frame; frame ``i`` has ``seq + i``.
    t
        ``(k,)`` float64 acquisition times in seconds.
    recv_ns
        ``time.perf_counter_ns()`` when this process received the chunk.
    labels
        Neuron identities (``None`` entries where unknown), or ``None`` for none.
    sent_ns
        Producer's ``perf_counter_ns()`` at send, when it said (same machine only).
    """

    data: np.ndarray
    seq: int
    t: np.ndarray
    recv_ns: int
    labels: tuple[str | None, ...] | None = None
    sent_ns: int | None = None

    @property
    def n_frames(self) -> int:
        """Frames in the chunk (k)."""
        return int(self.data.shape[0])

    @property
    def n_neurons(self) -> int:
        """Neurons per frame (n)."""
        return int(self.data.shape[1])


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A message as received, not parsed yet: its parts and ``perf_counter_ns()`` at receipt."""

    parts: list[bytes]
    recv_ns: int


@runtime_checkable
class RawReader(Protocol):
    """A source that can hand over messages unparsed, so that a
    :class:`~rtdecode.stream.FairShare` parses only those it keeps (a ZeroMQ source)."""

    def read_raw(self, timeout: float) -> RawMessage | None:
        """The next message, unparsed, or ``None`` after ``timeout`` seconds."""

    def parse_raw(self, raw: RawMessage) -> Chunk | None:
        """Its frames; ``None`` for a malformed message (counted by the source)."""

    def frames_in(self, raw: RawMessage) -> int:
        """How many frames it holds (0 for a malformed one, counted by the source)."""


class Source(ABC):
    """A live stream of frames.

    Life cycle: :meth:`start`, then :meth:`read` until done, then :meth:`stop`. Sources never
    raise on bad input from the wire: they count it in :attr:`malformed` (reason -> count),
    log it rate-limited, and carry on.

    Attributes
    ----------
    uri
        Where the frames come from, for logs and summaries.
    malformed
        Malformed messages seen, by reason.
    behavior
        Where behaviour samples that arrive with the frames go (ZeroMQ sources: ``behavior``
        messages on the frame socket); ``None`` leaves them unread, counted as malformed
        (``topic``).
    """

    uri: str
    waitable = False
    """Whether :attr:`wait_socket` gives a socket once started."""
    lossless = False
    """Whether every frame must be kept (a file replayed as fast as it reads): a loop serving
    several streams then reads it without a bounded, drop-oldest queue
    (:class:`~rtdecode.stream.FairShare`)."""

    def __init__(self) -> None:
        self.malformed: Counter[str] = Counter()
        self.behavior: BehaviorTrack | None = None
        self.interrupted = False

    def interrupt(self) -> None:
        """Ask a :meth:`start` that blocks (an LSL look-up) to give up soon; thread- and
        signal-safe. A source interrupted before it found its stream is :attr:`finished`."""
        self.interrupted = True

    @abstractmethod
    def start(self) -> None:
        """Open the connection (may block while resolving a stream)."""

    @abstractmethod
    def read(self, timeout: float) -> Chunk | None:
        """Return the next chunk, or ``None`` if none arrived within ``timeout`` seconds.

        ``timeout=0`` polls without waiting. A source may reuse the chunk's arrays on the next
        call: consume a chunk before reading the next.
        """

    @abstractmethod
    def stop(self) -> None:
        """Close the connection; safe to call twice."""

    def stats(self) -> dict[str, Any]:
        """Health figures particular to this kind of source (LSL restarts, clock offset...)."""
        return {}

    @property
    def wait_socket(self) -> Any:
        """A ZeroMQ socket, readable when frames may be waiting, once started; ``None`` for a
        source that has none (a loop serving several streams reads it on a thread of its own,
        see :class:`~rtdecode.stream._threaded.ThreadedSource`)."""
        return None

    @property
    def finished(self) -> bool:
        """True once a finite source has delivered everything (live sources: never)."""
        return False

    def __enter__(self) -> Source:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
