"""Worker processes (producer, consumer) driven by request/reply over a pipe."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event
from typing import Any

from rtdecode.errors import RtdecodeError

__all__ = ["BenchError", "Peer", "new_event", "spawn_context"]


class BenchError(RtdecodeError):
    """A benchmark peer or the decoder under test failed, hung, or produced no data."""


def spawn_context() -> mp.context.SpawnContext:
    """Return the multiprocessing context of every benchmark peer (fresh interpreters, no fork)."""
    return mp.get_context("spawn")


class Peer:
    """One worker process and the pipe that commands it.

    Parameters
    ----------
    name
        Shown in error messages ("producer", "consumer").
    target
        ``target(conn, *args)`` serves commands on ``conn`` (see the producer and consumer
        modules).
    args
        Further arguments of ``target``.
    """

    def __init__(self, name: str, target: Callable[..., None], *args: Any) -> None:
        context = spawn_context()
        self.name = name
        self._conn, child = context.Pipe()
        self._process = context.Process(target=target, args=(child, *args), name=name, daemon=True)
        self._process.start()
        child.close()

    def pin(self, cores: set[int]) -> None:
        """Restrict the worker process to ``cores``."""
        assert self._process.pid is not None
        os.sched_setaffinity(self._process.pid, cores)

    def reply(self, timeout_s: float, on_wait: Callable[[], None] | None = None) -> Any:
        """Wait for the worker's next message, calling ``on_wait`` about five times a second."""
        deadline = time.monotonic() + timeout_s
        while not self._conn.poll(0.2):
            if not self._process.is_alive():
                raise BenchError(
                    f"the benchmark {self.name} process exited with code "
                    f"{self._process.exitcode}; run with -vv to see its traceback"
                )
            if time.monotonic() > deadline:
                raise BenchError(
                    f"the benchmark {self.name} did not answer within {timeout_s:.0f} s"
                )
            if on_wait is not None:
                on_wait()
        answer = self._conn.recv()
        if isinstance(answer, Exception):
            raise BenchError(f"the benchmark {self.name} failed: {answer}") from answer
        return answer

    def request(
        self, command: tuple[Any, ...], timeout_s: float, on_wait: Callable[[], None] | None = None
    ) -> Any:
        """Send ``command`` and return the worker's answer."""
        self._conn.send(command)
        return self.reply(timeout_s, on_wait)

    def close(self) -> None:
        """Ask the worker to stop, and end it if it does not within a few seconds."""
        if self._process.is_alive():
            try:
                self.request(("stop",), timeout_s=5.0)
            except (BenchError, OSError):
                pass
        self._process.join(timeout=5.0)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5.0)
        self._conn.close()


def new_event() -> Event:
    """Return an event the producer and consumer processes can share."""
    return spawn_context().Event()
