"""Progress of the long offline commands on stderr, so stdout's tables and JSON stay clean."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["StatusLine", "progress_option", "status_line"]

F = TypeVar("F", bound=Callable[..., Any])


def progress_option(command: F) -> F:
    """``--progress/--no-progress``: the status line on stderr (default: only on a terminal),
    read by :func:`status_line` (the command's function gets no argument for it)."""
    return click.option(
        "--progress/--no-progress",
        "progress",
        default=None,
        expose_value=False,
        callback=_remember,
        help="Show progress on stderr (default: only when stderr is a terminal); stdout "
        "carries only the results either way.",
    )(command)


def _remember(context: click.Context, _param: click.Parameter, value: bool | None) -> None:
    context.meta["rtdecode.progress"] = value


class StatusLine:
    """A progress callback: one self-overwriting line on a terminal, one line per new step
    otherwise (a log, or ``--progress`` into a pipe), nothing with ``--no-progress``.

    Parameters
    ----------
    enabled
        ``True`` or ``False`` as the user asked; ``None``: on when stderr is a terminal.
    """

    def __init__(self, enabled: bool | None = None) -> None:
        self._tty = sys.stderr.isatty()
        self.enabled = self._tty if enabled is None else enabled
        self._last_step = ""
        self._start = time.monotonic()

    def __call__(self, line: str) -> None:
        """Show ``line``; what precedes its first ``:`` names the step."""
        if not self.enabled:
            return
        if self._tty:
            elapsed = time.monotonic() - self._start
            click.echo(f"\r\033[K[{elapsed:4.0f} s] {line}", err=True, nl=False)
            return
        step = line.split(":")[0]
        if step != self._last_step:
            self._last_step = step
            click.echo(line, err=True)

    def done(self) -> None:
        """Clear the line on a terminal before the results are printed."""
        if self.enabled and self._tty:
            click.echo("\r\033[K", err=True, nl=False)


def status_line() -> StatusLine:
    """The running command's status line, as its ``--progress/--no-progress`` asks (one per
    command, so that :meth:`StatusLine.done` before the results clears what was shown)."""
    context = click.get_current_context(silent=True)
    if context is None:
        return StatusLine()
    line = context.meta.get("rtdecode.status_line")
    if line is None:
        line = context.meta["rtdecode.status_line"] = StatusLine(
            context.meta.get("rtdecode.progress")
        )
    return line
