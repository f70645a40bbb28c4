"""Serving the page: from a decoder's feed or outputs (``--connect``), or a session file."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rtdecode.log import get_logger
from rtdecode.view._address import ViewAddress
from rtdecode.view._intake import Intake, read_session_states
from rtdecode.view._server import ViewServer
from rtdecode.view._state import StreamState

__all__ = ["serve_feed", "serve_session"]

_log = get_logger(__name__)


def _stop_on_signals(server: ViewServer, parent_pid: int | None) -> None:
    """SIGINT/SIGTERM stop the server; so does the decoder process that started it exiting."""

    def stop(signum: int, frame: Any) -> None:
        server.stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    if parent_pid is not None:

        def watch() -> None:
            while os.getppid() == parent_pid:
                threading.Event().wait(0.5)
            server.stop()

        threading.Thread(target=watch, name="rtdecode-view-parent", daemon=True).start()


def serve_feed(
    endpoints: Sequence[str],
    address: ViewAddress,
    *,
    token: str | None = None,
    insecure: bool = False,
    edges: bool = True,
    parent_pid: int | None = None,
    on_ready: Callable[[ViewServer], None] | None = None,
) -> None:
    """Serve the page for the decoder(s) at ``endpoints`` until interrupted.

    Parameters
    ----------
    endpoints
        ZeroMQ endpoints of a decoder's view feed, prediction or trigger outputs.
    address, token, insecure
        Where the page listens, and its access control (see :class:`ViewServer`).
    edges
        Run the model's edge module for the inferred graph (view feeds only).
    parent_pid
        Stop when the process with this id (the decoder that started the view) is gone.
    on_ready
        Called with the server once it listens (prints the address).
    """
    import torch

    torch.set_num_threads(1)  # the edge module must not take the decoder's cores
    if parent_pid is not None:
        os.nice(10)  # started by a decoder: when the cores are busy, the decoder goes first
    intake = Intake(endpoints, edges=edges)
    worker = ThreadPoolExecutor(1, thread_name_prefix="rtdecode-view-edges")
    edges_now = _edge_runs(worker, lambda: intake.states, every=20)  # once a second

    def poll() -> None:
        intake.poll()
        edges_now()

    server = ViewServer(address, lambda: intake.states, poll, token=token, insecure=insecure)
    _stop_on_signals(server, parent_pid)
    if on_ready is not None:
        on_ready(server)
    try:
        server.run()
    finally:
        worker.shutdown(wait=False, cancel_futures=True)
        intake.close()


def _edge_runs(
    worker: ThreadPoolExecutor, states: Callable[[], list[StreamState]], every: int
) -> Callable[[], None]:
    """A poll step that starts the states' edge jobs on ``worker`` every ``every`` calls, one
    run at a time: the graph is a slow panel."""
    pending: list[Future[None]] = []
    tick = {"n": 0}

    def step() -> None:
        tick["n"] += 1
        if tick["n"] % every or any(not job.done() for job in pending):
            return
        pending.clear()
        for state in states():
            job = state.edge_job()
            if job is not None:
                pending.append(worker.submit(_guarded, state, job))

    return step


def _guarded(state: Any, job: Callable[[], None]) -> None:
    """Run one edge job; a failure turns the graph off with the reason shown on the page."""
    try:
        job()
    except Exception as exc:
        state.want_edges, state.edge_error = False, f"edge module failed: {exc}"
        _log.exception("view: the edge module failed")


def serve_session(
    path: Path,
    address: ViewAddress,
    *,
    token: str | None = None,
    insecure: bool = False,
    on_ready: Callable[[ViewServer], None] | None = None,
) -> None:
    """Serve the page for a finished session file, with a time slider, until interrupted; the
    graph of the slider's window is computed as soon as the slider stops on it."""
    import torch

    torch.set_num_threads(1)
    states = [read_session_states(path)]
    worker = ThreadPoolExecutor(1, thread_name_prefix="rtdecode-view-edges")
    edges_now = _edge_runs(worker, lambda: states, every=1)
    server = ViewServer(
        address, lambda: states, edges_now, token=token, insecure=insecure, slider=True
    )
    _stop_on_signals(server, None)
    if on_ready is not None:
        on_ready(server)
    try:
        server.run()
    finally:
        worker.shutdown(wait=False, cancel_futures=True)
