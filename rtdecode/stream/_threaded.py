"""The :class:`ThreadedSource`: another source read on its own thread, with a socket to wait on.

A loop that serves several streams must never wait on one of them. ZeroMQ sources only poll
their socket, but an LSL inlet can block: the first look-up (up to ``--resolve-timeout``),
re-opening a stream after a loss (up to 5 s), a clock-offset query (up to 0.1 s). Read on its
own thread, such a source holds up nobody; each chunk it hands over rings an in-process
ZeroMQ socket the loop polls with the others.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import zmq

from rtdecode.errors import SourceError
from rtdecode.log import get_logger
from rtdecode.stream._source import Chunk, Source

__all__ = ["ThreadedSource"]

_log = get_logger(__name__)

_READ_S = 0.05  # the reader's longest wait in one read, so that it sees stop() soon
_STOP_WAIT_S = 1.0  # longest wait in stop() for a reader blocked in its source


class ThreadedSource(Source):
    """Reads ``source`` on a thread of its own (started by :meth:`start`).

    Chunks are copied on the reader thread (sources reuse their arrays) and queued; at most
    ``max_chunks`` wait, then the reader waits too and the inner source's own buffer holds the
    frames (an LSL inlet keeps minutes; beyond that, losses show as gaps in ``seq``). An
    exception on the reader thread, the first start included, is raised again by the next
    :meth:`read`, so the stream fails where its loop can report it.

    Parameters
    ----------
    source
        The source to read (not started).
    max_chunks
        Most chunks waiting to be read.
    """

    waitable = True

    def __init__(self, source: Source, max_chunks: int = 1000) -> None:
        super().__init__()
        self.source = source
        self.uri = source.uri
        self.malformed = source.malformed  # the inner source counts into the same Counter
        self._chunks: queue.Queue[Chunk] = queue.Queue(max_chunks)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._address = f"inproc://rtdecode-reader-{id(self):x}"
        self._bell: zmq.Socket[bytes] | None = None

    def start(self) -> None:
        """Start the reader thread, which starts the inner source (returns at once)."""
        self._bell = zmq.Context.instance().socket(zmq.PAIR)
        self._bell.bind(self._address)
        self._thread = threading.Thread(target=self._read_loop, name=f"read {self.uri}")
        self._thread.daemon = True
        self._thread.start()

    def _read_loop(self) -> None:
        ringer: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PAIR)
        ringer.connect(self._address)
        try:
            self.source.start()
            while not self._stop.is_set() and not self.source.finished:
                chunk = self.source.read(_READ_S)
                if chunk is None:
                    continue
                copy = Chunk(
                    chunk.data.copy(),
                    chunk.seq,
                    chunk.t.copy(),
                    chunk.recv_ns,
                    chunk.labels,
                    chunk.sent_ns,
                )
                while not self._stop.is_set():
                    try:
                        self._chunks.put(copy, timeout=_READ_S)
                    except queue.Full:
                        continue
                    ringer.send(b"")  # one ring per chunk: readable while chunks wait
                    break
        except BaseException as exc:  # handed to the loop's thread, which fails the stream
            self._error = exc
            ringer.send(b"")
        finally:
            ringer.close(0)

    def read(self, timeout: float) -> Chunk | None:
        """The next chunk the reader thread queued, or ``None`` after ``timeout`` seconds.

        Raises
        ------
        Exception
            What the inner source raised on the reader thread.
        """
        bell = self._bell
        if bell is None:
            raise SourceError(f"source '{self.uri}' is not started; call start() first")
        if not bell.poll(max(0, int(timeout * 1e3)), zmq.POLLIN):
            return None
        bell.recv()
        if self._error is not None:
            raise self._error
        return self._chunks.get_nowait()

    def stop(self) -> None:
        """Stop the reader thread and the inner source; safe to call twice.

        A reader still blocked in its source after a second (an LSL look-up that finds
        nothing) is left behind, logged, with its source: it ends with the process.
        """
        self._stop.set()
        self.source.interrupt()
        if self._thread is not None:
            self._thread.join(_STOP_WAIT_S)
            if self._thread.is_alive():
                _log.warning("%s: its reader is still blocked in the source; left behind", self.uri)
            else:
                self.source.stop()
            self._thread = None
        if self._bell is not None:
            self._bell.close(0)
            self._bell = None

    def interrupt(self) -> None:
        """Interrupt the inner source's look-up (thread- and signal-safe)."""
        self.interrupted = True
        self.source.interrupt()

    @property
    def wait_socket(self) -> zmq.Socket[bytes] | None:
        """The in-process socket rung once per queued chunk (``None`` before :meth:`start`)."""
        return self._bell

    @property
    def finished(self) -> bool:
        """True once the inner source finished and every chunk was read."""
        return self.source.finished and self._chunks.empty()

    def stats(self) -> dict[str, Any]:
        """The inner source's health figures."""
        return self.source.stats()
