"""``--view`` for ``rtdecode run`` and ``rtdecode demo``: one tap per pipeline, one page."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from rtdecode.live import Pipeline

if TYPE_CHECKING:
    from rtdecode.view import AttachedView

__all__ = ["attached_view", "view_options"]

_F = TypeVar("_F", bound=Callable[..., Any])


def view_options(command: _F) -> _F:
    """Add ``--view``, ``--view-token`` and ``--view-linger``."""
    command = click.option(
        "--view-linger",
        type=click.FloatRange(min=0.0),
        default=5.0,
        show_default=True,
        metavar="SECONDS",
        help="After decoding stops, keep the page (showing 'stopped' and the summary) this long; "
        "Ctrl-C ends it sooner.",
    )(command)
    command = click.option(
        "--view-token",
        envvar="RTDECODE_VIEW_TOKEN",
        help="Access token of a page beyond loopback (default: a new one, printed).",
    )(command)
    return click.option(
        "--view",
        "view",
        metavar="[HOST:]PORT",
        help="Serve a live browser page of the decoder at this address (loopback unless a "
        "host is given; beyond loopback it needs the printed token, or --insecure). Needs "
        "the 'view' extra.",
    )(command)


@contextmanager
def attached_view(
    view: str | None,
    pipelines: Sequence[Pipeline],
    *,
    model: Path | None,
    abstain: tuple[float, float] | None,
    policy: Any = None,
    controller: Any = None,
    token: str | None = None,
    insecure: bool = False,
    linger_s: float = 5.0,
) -> Iterator[AttachedView | None]:
    """Attach a tap to each pipeline and serve the page while the block runs (gives the
    :class:`~rtdecode.view.AttachedView`; ``None`` without ``view``); checks the address and
    the port before the block starts."""
    if view is None:
        yield None
        return
    from rtdecode._optional import import_optional
    from rtdecode.view import AttachedView, StreamContext, ViewTap

    import_optional("bokeh", "view", "the browser view (--view)")
    taps = []
    for pipeline in pipelines:
        context = StreamContext(
            name=pipeline.source.uri,
            states=pipeline.engine.states,
            model=None if model is None else str(model),
            frame_interval_s=pipeline.frame_interval_s,
            window=pipeline.engine.window,
            abstain=abstain,
            trigger={} if policy is None else json.loads(policy.to_json()),
        )
        tap = ViewTap(context, health=pipeline.counters)
        pipeline.tap = tap
        taps.append(tap)
    if controller is not None:
        controller.event_logs.append(taps[0].offer_event)
    attached = AttachedView(view, taps, token=token, insecure=insecure, linger_s=linger_s)
    click.echo(f"view: {attached.url}", err=True)
    attached.start()
    try:
        yield attached
    finally:
        attached.close()
