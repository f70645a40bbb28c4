"""Stream addresses: ``zmq+tcp://HOST:PORT``, ``zmq+ipc://PATH``, ``lsl://NAME``, ``FILE.h5``.

Options follow ``?``: ``bind``/``connect`` and the CURVE key files ``key``, ``clients`` and
``server_key`` for ZeroMQ; ``dejitter`` and ``counter`` for LSL.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from rtdecode.errors import SourceError

__all__ = ["Address", "Curve", "parse_address", "stream_address"]

_EXAMPLES = "zmq+tcp://127.0.0.1:5555, zmq+ipc:///tmp/scope.ipc, lsl://NAME or session.h5"


@dataclass(frozen=True)
class Curve:
    """ZeroMQ CURVE key files of one socket (made by ``rtdecode keys``).

    Attributes
    ----------
    key
        This side's key pair: the ``NAME.key_secret`` file.
    clients
        For the side that accepts connections (the CURVE server): a folder of the allowed
        clients' public keys (``*.key``).
    server_key
        For the side that connects (a CURVE client): the server's public key, ``NAME.key``.
    """

    key: str
    clients: str | None = None
    server_key: str | None = None


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
    curve
        CURVE keys (ZeroMQ only), or ``None`` for plain text.
    dejitter
        LSL only: smooth the time stamps (``?dejitter``).
    counter
        LSL only: label of a frame-counter channel that numbers the frames (``?counter=``).
    """

    kind: str
    target: str
    bind: bool | None
    uri: str
    curve: Curve | None = None
    dejitter: bool = False
    counter: str | None = None

    def zmq_bind(self, default: bool) -> bool:
        """Whether a ZeroMQ socket at this address binds, given the role's default."""
        return default if self.bind is None else self.bind

    @property
    def loopback(self) -> bool:
        """True for ``ipc://`` and TCP on a loopback address (only this machine can reach it)."""
        if not self.target.startswith("tcp://"):
            return True
        host = self.target[len("tcp://") :].rsplit(":", 1)[0].strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False  # a host name, an interface name or '*'


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
    if parts.scheme == "lsl":
        name = parts.netloc + parts.path
        if not name:
            raise SourceError(f"address '{uri}' needs a stream name, e.g. lsl://rtdecode")
        counter = query.get("counter", [""])[-1] or None
        if set(query) - {"dejitter", "counter"} or ("counter" in query) == (counter is None):
            raise SourceError(
                f"address '{uri}': unknown options {sorted(query)}; use ?dejitter, or "
                "?counter=LABEL to number frames from the channel labelled LABEL"
            )
        if counter is not None and "dejitter" in query:
            raise SourceError(f"address '{uri}': ?dejitter applies without ?counter only")
        return Address("lsl", name, None, uri, dejitter="dejitter" in query, counter=counter)
    unknown = sorted(set(query) - {"bind", "connect", *_CURVE_OPTIONS})
    if unknown or ("bind" in query and "connect" in query):
        raise SourceError(
            f"address '{uri}': unknown or conflicting options {sorted(query)}; "
            "use ?bind or ?connect, and key=, clients= or server_key= for CURVE"
        )
    bind = True if "bind" in query else False if "connect" in query else None
    curve = _curve(uri, query)
    if parts.scheme == "zmq+tcp":
        try:
            port = parts.port
        except ValueError:  # not an integer, or outside 0-65535
            port = -1
        if port is None:
            raise SourceError(
                f"address '{uri}' needs a host and port, e.g. zmq+tcp://127.0.0.1:5555"
            )
        if not (1 <= port <= 65535 or (port == 0 and bind is True)):
            raise SourceError(
                f"address '{uri}': the port must be a whole number from 1 to 65535 (0 only "
                "with ?bind: any free port), e.g. zmq+tcp://127.0.0.1:5555"
            )
        hostname = parts.hostname or "127.0.0.1"  # zmq+tcp://:5555 means this machine only
        host = f"[{hostname}]" if ":" in hostname else hostname
        return Address("zmq", f"tcp://{host}:{port}", bind, uri, curve)
    if parts.scheme == "zmq+ipc":
        path = parts.netloc + parts.path
        if not path:
            raise SourceError(f"address '{uri}' needs a path, e.g. zmq+ipc:///tmp/scope.ipc")
        return Address("zmq", f"ipc://{path}", bind, uri, curve)
    raise SourceError(f"cannot understand address '{uri}'; use one of: {_EXAMPLES}")


_CURVE_OPTIONS = ("key", "clients", "server_key")


def stream_address(uri: str, stream: int) -> str:
    """The sink address of stream ``stream`` (1-based) when one process decodes several.

    ``zmq+tcp://HOST:PORT`` becomes port ``PORT + stream - 1`` (consecutive ports);
    ``zmq+ipc://PATH``, ``lsl://NAME`` and ``FILE.h5`` get ``-STREAM`` after the name (before
    a file's extension). Options after ``?`` are kept.

    Raises
    ------
    SourceError
        For an address :func:`parse_address` refuses, or a TCP port that would pass 65535.
    """
    address = parse_address(uri, allow_file=True)
    base, sep, query = uri.partition("?") if address.kind != "file" else (uri, "", "")
    if address.kind == "zmq" and address.target.startswith("tcp://"):
        host, _, port = base.rpartition(":")
        number = int(port) + stream - 1
        if int(port) == 0 or number > 65535:
            raise SourceError(
                f"sink '{uri}' for stream {stream}: with several sources each stream publishes "
                "on its own port (PORT + stream - 1); give a fixed port at most "
                f"{65536 - stream}"
            )
        return f"{host}:{number}{sep}{query}"
    stem, dot, extension = base.rpartition(".")
    if address.kind == "lsl" or not dot or "/" in extension:
        return f"{base}-{stream}{sep}{query}"
    return f"{stem}-{stream}.{extension}{sep}{query}"


def _curve(uri: str, query: dict[str, list[str]]) -> Curve | None:
    """The CURVE options of a ZeroMQ address, checked for a consistent role."""
    given = {name: query[name][-1] for name in _CURVE_OPTIONS if name in query}
    if not given:
        return None
    if not given.get("key") or ("clients" in given) == ("server_key" in given):
        raise SourceError(
            f"address '{uri}': CURVE needs key=NAME.key_secret (this side's keys, from "
            "'rtdecode keys') and either clients=DIR (the side others connect to: a folder of "
            "allowed public keys) or server_key=NAME.key (the side that connects)"
        )
    return Curve(given["key"], given.get("clients"), given.get("server_key"))
