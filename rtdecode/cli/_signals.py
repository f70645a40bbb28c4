"""Turn SIGINT, SIGTERM and SIGHUP into a clean stop for long-running commands.

SIGHUP is what a closed terminal or a dropped SSH session sends: it stops a run the way
SIGTERM does (safe state, summary, every row written) instead of killing it mid-write.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["STOP_SIGNALS", "StopOnSignals", "Stopped", "stop_on_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""The signals that stop a run cleanly."""


class Stopped(BaseException):
    """A stop signal arrived before the run's loop took over (during start-up).

    A ``BaseException``, like ``KeyboardInterrupt``: no ``except Exception`` in a library
    swallows it.

    Parameters
    ----------
    signum
        The signal's number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by this signal: 128 + its number."""
        return 128 + self.signum


class StopOnSignals:
    """Signal handling for a whole command: start-up is aborted, a running loop is stopped.

    Until :attr:`target` is set, a stop signal raises :class:`Stopped` in the main thread
    (start-up code in Python is interrupted at once; a blocking look-up is cut into short
    slices so it is too). Once set, the signal calls ``target`` (the loop's ``stop``) and the
    loop ends as it does at the end of a run.

    Attributes
    ----------
    target
        The running loop's ``stop``, or ``None`` during start-up.
    received
        The name of the last stop signal received (``None``: none).
    """

    def __init__(self) -> None:
        self.target: Callable[[], None] | None = None
        self.received: str | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received = signal.Signals(signum).name
        if self.target is None:
            raise Stopped(signum)
        self.target()


@contextmanager
def stop_on_signals(stop: Callable[[], None] | StopOnSignals) -> Iterator[None]:
    """Handle SIGINT, SIGTERM and SIGHUP while the block runs, then restore the handlers.

    Parameters
    ----------
    stop
        Called on each of them; or a :class:`StopOnSignals` that decides.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        stop()  # type: ignore[call-arg]

    chosen = stop if isinstance(stop, StopOnSignals) else handler
    previous = {sig: signal.signal(sig, chosen) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
