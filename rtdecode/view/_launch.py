"""``--view``: the decoder's side of the live view (taps, feed thread, the view's own process).

The page is served by a child process (``rtdecode view --connect`` on the feed), so its
Python work (the Bokeh document, the manifold, the model's edge module) never holds the
decoder's interpreter lock: all the decode loop pays is the tap's appends, and the feed
thread's drain 20 times a second. The view process yields the cores to the decoder: it runs at
lower priority (``nice`` 10), its numerical libraries on one thread each (a BLAS pool spinning
on both cores took a quarter of one), and off the decoder's core when the decoder is pinned
(``--cpu``; the view process would otherwise inherit that pinning). The address, the token and
the port are checked here, before decoding starts.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rtdecode.log import get_logger
from rtdecode.view._address import ViewAddress, check_free, parse_view_address
from rtdecode.view._feed import FeedPublisher
from rtdecode.view._tap import ViewTap

__all__ = ["TOKEN_ENV", "AttachedView"]

_log = get_logger(__name__)

TOKEN_ENV = "RTDECODE_VIEW_TOKEN"
"""The child gets the token in its environment (not on its command line, which ``ps`` shows)."""

ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""The view process's numerical libraries run on one thread: their worker pools (BLAS in the
manifold's eigendecomposition, OpenMP in the edge module) spin while they wait, on the cores the
decoder needs."""


def _keep_off(pid: int, cpu: int) -> None:
    """Move process ``pid`` off core ``cpu`` (the decoder's, with ``--cpu``) onto the others;
    leaves it where it is when there is no other core."""
    others = set(range(os.cpu_count() or 1)) - {cpu}
    try:
        os.sched_setaffinity(pid, others)
    except (OSError, ValueError):  # no other core this process may use
        _log.info("view: no core other than %d for the view process", cpu)


@contextmanager
def _signals_end(end: Callable[[], None]) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP call ``end`` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.getsignal(signum) for signum in stops}
    for signum in stops:
        signal.signal(signum, lambda signum, frame: end())
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _feed_endpoint(feed: str | None) -> str:
    """The ZeroMQ endpoint to bind the feed on (a free loopback port without ``feed``)."""
    if feed is None:
        return "tcp://127.0.0.1:*"
    from rtdecode.stream._address import parse_address

    return parse_address(feed).target


class AttachedView:
    """The view of a running decoder.

    Parameters
    ----------
    address
        ``[HOST:]PORT`` for the page (``None``: no page, the feed alone).
    taps
        One tap per stream, offered to by the decode loop.
    token
        Access token (made when needed and not given).
    insecure
        Serve beyond loopback without a token.
    linger_s
        After the decoder stops, keep the page (showing "stopped" and the summary) this long.
    decoder_cpu
        The core the decoder is pinned to (``--cpu``), which the view process then leaves
        to it; ``None``: not pinned.
    feed
        ``zmq+tcp://`` or ``zmq+ipc://`` address to publish the feed at, for ``rtdecode view
        --connect`` elsewhere (``None``: a free loopback port, for the page's process alone).

    Raises
    ------
    ConfigError
        A bad address, or a port in use, with what to do.
    """

    def __init__(
        self,
        address: str | None,
        taps: Sequence[ViewTap],
        *,
        token: str | None = None,
        insecure: bool = False,
        linger_s: float = 5.0,
        decoder_cpu: int | None = None,
        feed: str | None = None,
    ) -> None:
        self.address: ViewAddress | None = None
        self.token = token
        if address is not None:
            self.address = parse_view_address(address)
            check_free(self.address)
            needs_token = not (self.address.loopback or insecure)
            self.token = token or (secrets.token_urlsafe(16) if needs_token else None)
        self.taps = list(taps)
        self.linger_s = linger_s
        self.decoder_cpu = decoder_cpu
        self.feed = FeedPublisher(self.taps, _feed_endpoint(feed))
        self._child: subprocess.Popen[bytes] | None = None
        self._linger_over = threading.Event()

    @property
    def url(self) -> str:
        """The page's address (with the token when one is needed)."""
        assert self.address is not None, "a feed alone has no page"
        host = self.address.host
        host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        query = f"?token={self.token}" if self.token else ""
        return f"http://{host}:{self.address.port}/{query}"

    def attach(self, taps: Sequence[ViewTap]) -> None:
        """Feed these taps too (one per stream, in order): a view is opened before the
        decoder's streams exist (see :meth:`serve`)."""
        self.taps.extend(taps)
        self.feed.attach(taps)

    def start(self) -> None:
        """Start the feed thread, and the view process (with a page) unless it runs."""
        self.feed.start()
        self.serve()

    def serve(self) -> None:
        """Start the view process on the feed (with a page; none for a feed alone), before
        any tap is attached if need be: it serves the page while the decoder starts."""
        if self.address is None or self._child is not None:
            return
        command = [
            sys.executable,
            "-m",
            "rtdecode",
            "view",
            "--connect",
            "zmq+" + self.feed.endpoint,
            "--bind",
            f"{self.address.host}:{self.address.port}",
            "--parent-pid",
            str(os.getpid()),
        ]
        env = {**os.environ, **ONE_THREAD_ENV}
        if self.token:
            env[TOKEN_ENV] = self.token
        elif self.address.loopback is False:
            command.append("--insecure")
        self._child = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
        if self.decoder_cpu is not None:  # it inherited the decoder's pinning
            _keep_off(self._child.pid, self.decoder_cpu)

    def end_linger(self) -> None:
        """Stop keeping the page after the decoder stopped (a stop signal; thread-safe)."""
        self._linger_over.set()

    def close(self, linger: bool = True) -> None:
        """Send the stopped streams' summaries, keep the page ``linger_s`` (or until
        :meth:`end_linger`; not at all without ``linger``: a decoder that failed to start),
        then stop it."""
        self.feed.close()
        child = self._child
        if child is None:
            return
        deadline = time.monotonic() + (self.linger_s if linger else 0.0)
        with _signals_end(self.end_linger):
            while child.poll() is None and not self._linger_over.wait(0.1):
                if time.monotonic() >= deadline:
                    break
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self._child = None
