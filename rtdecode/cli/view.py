"""``rtdecode view``: the live page of a running decoder, or of a finished session file."""

from __future__ import annotations

from pathlib import Path

import click

from rtdecode._optional import import_optional
from rtdecode.errors import ConfigError, RtdecodeError
from rtdecode.stream._address import parse_address

__all__ = ["view"]


@click.command()
@click.argument("session", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--connect",
    "connect",
    multiple=True,
    help="A running decoder's ZeroMQ output to follow: its --view-feed (everything), its "
    "--sink zmq+tcp://HOST:PORT (predictions), its --trigger-out (trigger events); repeatable.",
)
@click.option(
    "--bind",
    default="127.0.0.1:5006",
    show_default=True,
    help="[HOST:]PORT the page listens on (loopback unless a host is given).",
)
@click.option(
    "--token",
    envvar="RTDECODE_VIEW_TOKEN",
    help="Access token for a page beyond loopback (default: a new one, printed).",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Serve beyond loopback without an access token: anyone who can reach the port sees "
    "the page.",
)
@click.option("--no-edges", is_flag=True, help="Do not run the model's edge module (graph).")
@click.option("--parent-pid", type=int, hidden=True)
def view(
    session: Path | None,
    connect: tuple[str, ...],
    bind: str,
    token: str | None,
    insecure: bool,
    no_edges: bool,
    parent_pid: int | None,
) -> None:
    """Serve the live page of a decoder (--connect) or of a finished SESSION.h5 file.

    The page shows the reversal probability with the abstain band and trigger threshold over
    the tracked behaviour, the decision ribbon, trigger events with the dose, the activity
    raster, the model's inferred graph, the causal manifold and the decoder's health. With
    `rtdecode run --view` the decoder starts it itself, with everything; following a decoder's
    --view-feed shows everything too, its other ZeroMQ outputs predictions and trigger events
    only. Ctrl-C stops it.
    """
    try:
        import_optional("bokeh", "view", "the browser view")
        from rtdecode.view._address import parse_view_address
        from rtdecode.view._serve import serve_feed, serve_session

        address = parse_view_address(bind)
        if session is not None and connect:
            raise ConfigError("give a SESSION.h5 file or --connect, not both")
        if session is None and not connect:
            raise ConfigError(
                "nothing to show: give a SESSION.h5 file, or --connect zmq+tcp://HOST:PORT of "
                "a running decoder's --sink (or start the decoder with rtdecode run --view)"
            )
        endpoints = []
        for uri in connect:
            parsed = parse_address(uri)
            if parsed.kind != "zmq":
                raise ConfigError(f"--connect '{uri}': give a zmq+tcp:// or zmq+ipc:// address")
            endpoints.append(parsed.target)

        def ready(server: object) -> None:
            url = getattr(server, "url", "")
            click.echo(f"view: {url}  (Ctrl-C stops)", err=True)

        if session is not None:
            if not session.exists():
                raise ConfigError(f"no session file {session}; give the path of a --sink .h5")
            serve_session(session, address, token=token, insecure=insecure, on_ready=ready)
        else:
            serve_feed(
                endpoints,
                address,
                token=token,
                insecure=insecure,
                edges=not no_edges,
                parent_pid=parent_pid,
                on_ready=ready,
            )
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
