"""The view's web server: a Bokeh server (tornado) serving one page, with BokehJS from the wheel.

Security, like the ZeroMQ endpoints: the page binds to loopback by default; binding beyond
loopback needs an access token (made and printed at start, or ``--token``) unless
``insecure``. The token is checked on every HTTP request and the page's WebSocket (given once
as ``?token=``, then kept in a same-site cookie); a wrong or missing token gets a 401 page
that says what to do.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any

from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.document import Document
from bokeh.layouts import column
from bokeh.models import Div, Slider, TabPanel, Tabs
from bokeh.server.auth_provider import AuthProvider
from bokeh.server.server import Server
from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.web import RequestHandler
from tornado.websocket import WebSocketHandler

from rtdecode.errors import ConfigError
from rtdecode.view._address import ViewAddress, check_free
from rtdecode.view._panel import StreamPanel
from rtdecode.view._state import StreamState

__all__ = ["ViewServer"]

_COOKIE = "rtdecode_view_token"


class _TokenAuth(AuthProvider):
    """Accept a request carrying the token (query ``token`` or the cookie)."""

    def __init__(self, token: str) -> None:
        self._token = token
        super().__init__()

    @property
    def get_user(self) -> Callable[[Any], str | None]:
        def check(handler: Any) -> str | None:
            given = handler.get_argument("token", None)
            if given is not None and hmac.compare_digest(given, self._token):
                if not isinstance(handler, WebSocketHandler):  # the page's own WebSocket
                    handler.set_cookie(_COOKIE, given, httponly=True, samesite="Strict")
                return "viewer"
            cookie = handler.get_cookie(_COOKIE)
            if cookie is not None and hmac.compare_digest(cookie, self._token):
                return "viewer"
            return None

        return check

    @property
    def login_url(self) -> str:
        return "/denied"

    @property
    def login_handler(self) -> type[RequestHandler]:
        return _Denied


class _Denied(RequestHandler):
    def get(self) -> None:
        self.set_status(401)
        self.finish(
            "<h1>401: access token needed</h1><p>This rtdecode view listens beyond loopback "
            "and needs its access token. Open the address printed by rtdecode, which ends in "
            "<code>?token=...</code> (or the one given with --token).</p>"
        )


class ViewServer:
    """Serves the page for a list of stream states.

    Parameters
    ----------
    address
        Where to listen.
    states
        Returns the stream states (the list may grow as streams appear).
    poll
        Called every ``poll_ms`` on the server's loop to take in new data (``None``: static).
    token
        The access token (required beyond loopback unless ``insecure``; made when ``None``).
    insecure
        Serve beyond loopback without a token.
    update_ms
        Page update period (10 per second by default).
    slider
        Add a time slider over the whole recording (finished sessions).
    """

    def __init__(
        self,
        address: ViewAddress,
        states: Callable[[], list[StreamState]],
        poll: Callable[[], Any] | None = None,
        *,
        token: str | None = None,
        insecure: bool = False,
        poll_ms: int = 50,
        update_ms: int = 100,
        slider: bool = False,
    ) -> None:
        if address.loopback or insecure:
            self.token = token
        else:
            self.token = token or secrets.token_urlsafe(16)
        check_free(address)
        self.address = address
        self._states = states
        self._poll = poll
        self._poll_ms = poll_ms
        self._update_ms = update_ms
        self._slider = slider
        self.io_loop = IOLoop()
        origins = [f"{h}:{address.port}" for h in ("localhost", "127.0.0.1", address.host)]
        options: dict[str, Any] = {}
        if self.token:
            options["auth_provider"] = _TokenAuth(self.token)
        try:
            self.server = Server(
                {"/": Application(FunctionHandler(self._make_document))},
                io_loop=self.io_loop,
                address=address.host,
                port=address.port,
                allow_websocket_origin=origins if address.loopback else ["*"],
                check_unused_sessions_milliseconds=2000,
                unused_session_lifetime_milliseconds=5000,
                **options,
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot serve the view on {address.host}:{address.port} ({exc})"
            ) from exc
        self.port = self.server.port

    @property
    def url(self) -> str:
        """The page's address (with the token when one is needed)."""
        host = "127.0.0.1" if self.address.host in ("0.0.0.0", "::") else self.address.host
        query = f"?token={self.token}" if self.token else ""
        return f"http://{host}:{self.port}/{query}"

    def run(self) -> None:
        """Serve until :meth:`stop` (blocks the calling thread)."""
        self.server.start()
        if self._poll is not None:
            PeriodicCallback(self._poll, self._poll_ms).start()
        self.io_loop.start()

    def stop(self) -> None:
        """Stop serving (thread-safe)."""
        self.io_loop.add_callback(self._shutdown)

    def _shutdown(self) -> None:
        self.server.stop()
        self.io_loop.stop()

    # ------------------------------------------------------------------ page
    def _make_document(self, doc: Document) -> None:
        doc.title = "rtdecode view"
        panels: list[StreamPanel] = []
        tabs = Tabs(tabs=[], name="streams")
        notice = Div(text="waiting for the decoder...", name="notice")
        parts: list[Any] = [notice, tabs]
        if self._slider:
            parts.append(self._time_slider(panels))
        doc.add_root(column(*parts, sizing_mode="stretch_width"))
        ticks = {"n": 0}

        def update() -> None:
            states = self._states()
            if len(states) > len(panels):
                for state in states[len(panels) :]:
                    panel = StreamPanel(state)
                    panels.append(panel)
                    tabs.tabs = [*tabs.tabs, TabPanel(child=panel.layout, title=state.name)]
                notice.visible = False
            for tab, panel in zip(tabs.tabs, panels, strict=True):
                if tab.title != panel.state.name:  # the stream's name arrived after its tab
                    tab.title = panel.state.name
            ticks["n"] += 1
            for panel in panels:
                panel.update(slow=ticks["n"] % 5 == 1)

        update()
        doc.add_periodic_callback(update, self._update_ms)

    def _time_slider(self, panels: list[StreamPanel]) -> Any:
        states = self._states()
        trace = states[0].trace if states else None
        t0 = float(trace.since(0)[0]["t"][0]) if trace is not None and trace.total else 0.0
        t1 = float(trace.last("t")) if trace is not None and trace.total else 1.0
        slider = Slider(
            start=t0,
            end=max(t1, t0 + 1.0),
            value=t1,
            step=0.1,
            title="time (s): end of the shown window",
            name="time",
            sizing_mode="stretch_width",
        )

        def move(attr: str, old: float, new: float) -> None:
            for state in states:  # the raster, manifold and graph at the slider's time
                state.seek(new, span_s=panels[0].x_range.follow_interval if panels else 120.0)
            for panel in panels:
                panel.x_range.follow = None
                panel.x_range.start = new - panel.x_range.follow_interval
                panel.x_range.end = new
                panel.raster_x.start, panel.raster_x.end = panel.x_range.start, new

        slider.on_change("value", move)
        return slider
