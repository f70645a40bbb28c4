"""Stream addresses: ``zmq+tcp://HOST:PORT``, ``zmq+ipc://PATH``, ``lsl://NAME``, ``FILE.h5``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from rtdecode.errors import SourceError

__all__ = ["Address", "parse_address"]

_EXAMPLES = "zmq+tcp://127.0.0.1:5555, zmq+ipc:///tmp/scope.ipc, lsl://NAME or session.h5"


@dataclass(frozen=True)
class Address:
    """A parsed stream address.

    Attributes
    ----------
    kind
        ``"zmq"``, ``"lsl"`` or ``"file"``.
    target
        ZeroMQ endpoint (``tcp://HOST:PORT`` or ``ipc://PATH``), LSL stream name, or file path.
    bind
        For ZeroMQ: True to bind, False to connect, None for the role's default
        (sources connect, sinks bind); set with ``?bind`` or ``?connect``.
    uri
        The address as given.
    """

    kind: str
    target: str
    bind: bool | None
    uri: str

    def zmq_bind(self, default: bool) -> bool:
        """Whether a ZeroMQ socket at this address binds, given the role's default."""
        return default if self.bind is None else self.bind


def parse_address(uri: str, *, allow_file: bool = False) -> Address:
    """Parse a source or sink address.

    Parameters
    ----------
    uri
        The address, for example ``zmq+tcp://127.0.0.1:5555``.
    allow_file
        Accept a path ending in ``.h5`` (the session file; sinks only).

    Raises
    ------
    SourceError
        Naming the address and the forms that are understood.
    """
    if allow_file and "://" not in uri and uri.lower().endswith((".h5", ".hdf5")):
        return Address("file", uri, None, uri)
    parts = urlsplit(uri)
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"bind", "connect"})
    if unknown or ("bind" in query and "connect" in query):
        raise SourceError(
            f"address '{uri}': unknown or conflicting options {sorted(query)}; "
            "use ?bind or ?connect"
        )
    bind = True if "bind" in query else False if "connect" in query else None
    if parts.scheme == "zmq+tcp":
        try:
            port = parts.port
        except ValueError:  # not an integer, or outside 0-65535
            port = -1
        if port is None:
            raise SourceError(
                f"address '{uri}' needs a host and port, e.g. zmq+tcp://127.0.0.1:5555"
            )
        if not 1 <= port <= 65535:
            raise SourceError(
                f"address '{uri}': the port must be a whole number from 1 to 65535, "
                "e.g. zmq+tcp://127.0.0.1:5555"
            )
        hostname = parts.hostname or "127.0.0.1"  # zmq+tcp://:5555 means this machine only
        host = f"[{hostname}]" if ":" in hostname else hostname
        return Address("zmq", f"tcp://{host}:{port}", bind, uri)
    if parts.scheme == "zmq+ipc":
        path = parts.netloc + parts.path
        if not path:
            raise SourceError(f"address '{uri}' needs a path, e.g. zmq+ipc:///tmp/scope.ipc")
        return Address("zmq", f"ipc://{path}", bind, uri)
    if parts.scheme == "lsl":
        name = parts.netloc + parts.path
        if not name:
            raise SourceError(f"address '{uri}' needs a stream name, e.g. lsl://rtdecode")
        return Address("lsl", name, None, uri)
    raise SourceError(f"cannot understand address '{uri}'; use one of: {_EXAMPLES}")
