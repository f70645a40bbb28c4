"""``--view`` for ``rtdecode run`` and ``rtdecode demo``: one tap per stream, one page.

The page's settings are the session's ``[view]`` section (:class:`~rtdecode.live.ViewConfig`).
Each stream's :class:`~rtdecode.view.ViewTap` is one of its post-inference chain's taps
(:class:`~rtdecode.live.Tap`, reading the frame's preprocessed row from the processor) and
listeners (:class:`~rtdecode.live.StreamListener`): the chain offers it every published frame,
the behaviour samples, the closed-loop events, each neuron layout and the stream's summary, all
off the critical path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from rtdecode.errors import ConfigError

if TYPE_CHECKING:
    from rtdecode.live import RunConfig, Session
    from rtdecode.view import AttachedView

__all__ = ["VIEW_OPTIONS", "attached_view", "check_view", "open_view", "stopped_on_failure"]

VIEW_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (
        ("--view",),
        {
            "metavar": "[HOST:]PORT",
            "section": "view",
            "key": "address",
            "help": "Serve a live browser page of the decoder here (loopback unless a host is "
            "given; beyond loopback it needs the printed token, or --insecure). Needs the 'view' "
            "extra; see docs/view.md.",
        },
    ),
    (
        ("--view-token",),
        {
            "envvar": "RTDECODE_VIEW_TOKEN",
            "section": "view",
            "key": "token",
            "show_default": False,
            "help": "Access token of a page beyond loopback (none: a new one, printed).",
        },
    ),
    (
        ("--view-linger",),
        {
            "type": click.FloatRange(min=0.0),
            "metavar": "SECONDS",
            "section": "view",
            "key": "linger_s",
            "help": "After decoding stops, keep the page (showing 'stopped' and the summary) "
            "this long; Ctrl-C ends it sooner.",
        },
    ),
    (
        ("--view-feed",),
        {
            "metavar": "ADDRESS",
            "section": "view",
            "key": "feed",
            "help": "Also publish the view's feed (every panel's data, the activity included) "
            "at this zmq+tcp:// or zmq+ipc:// address, for 'rtdecode view --connect' elsewhere; "
            "works without --view. Not encrypted: beyond loopback it needs --insecure.",
        },
    ),
]
"""``rtdecode run``'s view options (its option table's entries: flags, then settings)."""


def check_view(config: RunConfig) -> None:
    """Before the model loads: the view extra is installed and the page's port is free; a
    feed beyond loopback is allowed (``--insecure``)."""
    view = config.view
    if view.feed is not None:
        from rtdecode.stream._address import parse_address

        if not parse_address(view.feed).loopback and not config.source.insecure:
            raise ConfigError(
                f"--view-feed {view.feed} listens beyond loopback and the feed is not "
                "encrypted: bind it on 127.0.0.1 or ipc:// (and reach it through an SSH "
                "tunnel), or pass --insecure"
            )
    if view.address is None:
        return
    from rtdecode._optional import import_optional
    from rtdecode.view import check_free, parse_view_address

    import_optional("bokeh", "view", "the browser view (--view)")
    check_free(parse_view_address(view.address))


def open_view(config: RunConfig) -> AttachedView | None:
    """Before the model loads: check the view (:func:`check_view`), bind its feed and start
    the page's process, so that the page is up by the time the decoder is (the process takes
    about two seconds to serve, the model as long to load); ``None`` without ``--view`` or
    ``--view-feed``. Close it (:meth:`~rtdecode.view.AttachedView.close`) if the decoder then
    fails to start."""
    check_view(config)
    view = config.view
    if view.address is None and view.feed is None:
        return None
    from rtdecode.view import AttachedView

    attached = AttachedView(
        view.address,
        (),
        token=view.token,
        insecure=config.source.insecure,
        linger_s=view.linger_s,
        decoder_cpu=config.decoder.cpu,
        feed=view.feed,
    )
    attached.serve()
    return attached


@contextmanager
def stopped_on_failure(attached: AttachedView | None) -> Iterator[None]:
    """While the decoder starts: if it fails, stop the view :func:`open_view` started at once
    (no lingering page), so that the retry finds its port free."""
    try:
        yield
    except BaseException:
        if attached is not None:
            attached.close(linger=False)
        raise


@contextmanager
def attached_view(
    config: RunConfig, session: Session, attached: AttachedView | None
) -> Iterator[AttachedView | None]:
    """Add a view tap to each stream's chain of ``session`` and feed the view opened by
    :func:`open_view` while the block runs; closes it at the end (gives it back; ``None``
    without one)."""
    if attached is None:
        yield None
        return
    from rtdecode.view import StreamContext, ViewTap

    view = config.view
    trigger = {} if config.policy is None else json.loads(config.policy.to_json())
    taps = []
    for k, stream in enumerate(session.streams):
        context = StreamContext(
            name=stream.source.uri,
            states=stream.engine.states,
            model=config.decoder.model,
            frame_interval_s=stream.frame_interval_s,
            window=stream.engine.window,
            abstain=config.decoder.abstain,
            trigger=trigger if k == 0 else {},  # the closed loop is stream 1's
        )
        tap = ViewTap(context, health=stream.counters, row=stream.latest_row)
        stream.chain.taps.append(tap)
        stream.chain.listeners.append(tap)
        taps.append(tap)
    attached.attach(taps)
    if view.address is not None:
        click.echo(f"view: {attached.url}", err=True)
    if view.feed is not None:
        click.echo(f"view feed: {view.feed} (rtdecode view --connect {view.feed})", err=True)
    attached.start()
    try:
        yield attached
    finally:
        attached.close()
