"""Open and close every ZeroMQ socket of the live path, with CURVE when the address asks.

A socket whose address has ``clients=DIR`` is a CURVE server: it encrypts, and a ZAP handler
(:class:`zmq.auth.thread.ThreadAuthenticator`, one per process) lets in only clients whose
public key is in DIR (read again at each connection, so keys can be added while running). One
with ``server_key=FILE`` is a CURVE client of the server holding that key. A socket that binds
beyond loopback without CURVE is refused unless the user said ``--insecure``.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from rtdecode.errors import SourceError
from rtdecode.log import RateLimitedLog, get_logger
from rtdecode.stream._address import Address, Curve

__all__ = ["AllowedClients", "HandshakeWatch", "check_exposure", "close_socket", "open_socket"]

_log = RateLimitedLog(get_logger(__name__), interval_s=10.0)
_authenticator: ThreadAuthenticator | None = None
_servers: dict[int, str] = {}  # id(socket) -> its ZAP domain, while open
_domains = itertools.count()


class AllowedClients:
    """Decides which CURVE clients a server socket lets in: those with a key in a folder.

    Parameters
    ----------
    folder
        Folder of public key files (``*.key``, as ``rtdecode keys`` writes them).
    uri
        The socket's address, for the log.

    Attributes
    ----------
    refused
        Connections refused because the client's key is not in the folder.
    """

    EVENTS = zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    """Monitor events of a client refused before the key check: one without CURVE (plain
    text) or with a broken handshake. (A key not in the folder goes through :meth:`callback`.)"""

    def __init__(self, folder: Path, uri: str) -> None:
        self.folder = folder
        self.uri = uri
        self.refused = 0
        self.plain = 0

    def keys(self) -> set[bytes]:
        """The allowed public keys (Z85), read from the folder now."""
        return set(zmq.auth.load_certificates(str(self.folder)))

    def callback(self, domain: str, key: bytes) -> bool:
        """Called by the authenticator for each connection: True lets the client in."""
        try:
            if key in self.keys():
                return True
            why = f"its public key {key.decode()} is not in {self.folder}"
        except (OSError, ValueError) as exc:  # never let the authenticator's thread die
            why = f"the clients folder cannot be read ({exc})"
        self.refused += 1
        _log.warning(
            f"refused:{self.uri}",
            f"{self.uri}: refused a CURVE client: {why} ({self.refused} refused so far)",
        )
        return False

    def handle(self, event: int) -> None:
        """Take one of :data:`EVENTS`: a client refused without a key, counted as refused."""
        self.refused += 1
        self.plain += 1
        if self.plain == 1:  # once: a plain client retries on its own, or is a scan
            get_logger(__name__).warning(
                "%s: refused a client without CURVE keys (plain text, or a broken handshake); "
                "give it key= and server_key= (see 'rtdecode keys'). Counted with the refused "
                "clients; further ones are not logged",
                self.uri,
            )


class HandshakeWatch:
    """Follows the CURVE handshakes of a socket that connects with ``server_key``.

    The socket's owner feeds it the monitor events in :data:`EVENTS` (a socket has one
    monitor, which the owner shares with its other watches). A failed handshake is logged
    (rate-limited) and counted. After a refusal of this side's key, ZeroMQ never tries again;
    :meth:`tick` connects again every ``retry_s`` seconds, so the stream starts once the key is
    in the server's clients folder.

    Parameters
    ----------
    socket
        The connected socket.
    address
        Its address.
    retry_s
        Seconds between new attempts after a refusal.

    Attributes
    ----------
    failures
        Failed handshakes so far.
    """

    EVENTS = (
        zmq.EVENT_HANDSHAKE_FAILED_AUTH
        | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
        | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    )

    def __init__(self, socket: zmq.Socket[bytes], address: Address, retry_s: float = 5.0) -> None:
        self._socket = socket
        self._address = address
        self._retry_s = retry_s
        self._retry_at: float | None = None
        self.failures = 0

    def handle(self, event: int) -> None:
        """Take one failed-handshake event (one of :data:`EVENTS`)."""
        self.failures += 1
        refused = event == zmq.EVENT_HANDSHAKE_FAILED_AUTH
        hint = (
            "the server refused this side's key: add its public key (NAME.key) to the "
            "server's clients folder"
            if refused
            else "is server_key the server's public key, and does the server use CURVE?"
        )
        _log.warning(
            f"handshake:{self._address.uri}",
            f"{self._address.uri}: CURVE handshake failed ({hint}); {self.failures} failed so far",
        )
        if refused:
            self._retry_at = time.monotonic() + self._retry_s

    def tick(self) -> None:
        """Connect again when a refusal is old enough."""
        if self._retry_at is not None and time.monotonic() >= self._retry_at:
            self._retry_at = None
            self._socket.disconnect(self._address.target)
            self._socket.connect(self._address.target)


def _load(path: str, what: str, uri: str) -> tuple[bytes, bytes | None]:
    try:
        return zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise SourceError(
            f"address '{uri}': cannot read {what} '{path}' ({exc}); make keys with "
            "'rtdecode keys DIR'"
        ) from exc


def _allowed_clients(curve: Curve, uri: str) -> AllowedClients:
    assert curve.clients is not None
    allowed = AllowedClients(Path(curve.clients), uri)
    try:
        count = len(allowed.keys())
    except (OSError, ValueError) as exc:
        raise SourceError(f"address '{uri}': cannot read client keys ({exc})") from exc
    if count == 0:
        raise SourceError(
            f"address '{uri}': no public keys (*.key) in '{curve.clients}'; copy there the "
            "NAME.key file of each client allowed to connect"
        )
    return allowed


def check_exposure(address: Address, binds: bool, insecure: bool) -> None:
    """Check the key files, and refuse a plain-text bind others could reach unless ``insecure``.

    Called when a source or sink is made, so that a bad address fails before decoding starts.

    Raises
    ------
    SourceError
        Naming the address and the ways out (CURVE keys, a loopback address, ``--insecure``),
        or the key file that cannot be used.
    """
    if address.curve is not None:
        _keys(address)
    elif binds and not address.loopback and not insecure:
        raise SourceError(
            f"refusing to bind '{address.uri}' without encryption: anyone who can reach it "
            "could send frames or read predictions. Add CURVE keys (make them with 'rtdecode "
            "keys DIR', then add ?key=DIR/NAME.key_secret&clients=ALLOWED_DIR), bind "
            "127.0.0.1, or pass --insecure on a network you trust"
        )


def _keys(address: Address) -> tuple[bytes, bytes, bytes | AllowedClients]:
    """This side's public and secret keys, and the server's public key or the allowed clients."""
    curve = address.curve
    assert curve is not None
    public, secret = _load(curve.key, "key pair", address.uri)
    if secret is None:
        raise SourceError(
            f"address '{address.uri}': '{curve.key}' holds no secret key; give key= the "
            "NAME.key_secret file (NAME.key is the public half, for the other side)"
        )
    if curve.server_key is not None:
        return public, secret, _load(curve.server_key, "server key", address.uri)[0]
    return public, secret, _allowed_clients(curve, address.uri)


def _apply_curve(socket: zmq.Socket[bytes], address: Address) -> AllowedClients | None:
    """Set CURVE options before bind/connect; start the authenticator for a server."""
    global _authenticator
    if address.curve is None:
        return None
    public, secret, other = _keys(address)
    socket.curve_publickey = public
    socket.curve_secretkey = secret
    if isinstance(other, bytes):
        socket.curve_serverkey = other
        return None
    if _authenticator is None:
        _authenticator = ThreadAuthenticator(zmq.Context.instance())
        _authenticator.start()
    domain = f"rtdecode-{next(_domains)}"
    _authenticator.configure_curve_callback(domain, other)
    socket.zap_domain = domain.encode()
    socket.curve_server = True
    _servers[id(socket)] = domain
    return other


def open_socket(
    address: Address,
    socket_type: int,
    *,
    bind_default: bool,
    options: dict[int, int | bytes],
    what: str,
) -> tuple[zmq.Socket[bytes], AllowedClients | None]:
    """A socket bound or connected to ``address``, with its CURVE keys if it has some.

    Parameters
    ----------
    address
        Where to bind or connect, and the CURVE key files.
    socket_type
        ``zmq.PUB``, ``zmq.XPUB`` or ``zmq.SUB``.
    bind_default
        Whether this role binds when the address says neither ``?bind`` nor ``?connect``.
    options
        Socket options set before binding (high-water marks, linger, subscriptions...).
    what
        What the socket carries, for the error message ("frames", "predictions").

    Returns
    -------
    socket, allowed
        The socket, and for a CURVE server the :class:`AllowedClients` (its ``refused``
        count); close the socket with :func:`close_socket`.
    """
    socket: zmq.Socket[bytes] = zmq.Context.instance().socket(socket_type)
    try:
        for option, value in options.items():
            socket.setsockopt(option, value)
        allowed = _apply_curve(socket, address)
        if address.zmq_bind(default=bind_default):
            socket.bind(address.target)
        else:
            socket.connect(address.target)
    except zmq.ZMQError as exc:
        close_socket(socket, 0)
        raise SourceError(
            f"cannot open '{address.uri}' for {what} ({exc}); is the port in use by another "
            "program, or the host or path wrong? Pick another port or stop that program"
        ) from exc
    except SourceError:
        close_socket(socket, 0)
        raise
    return socket, allowed


def close_socket(socket: zmq.Socket[bytes], linger_ms: int | None = None) -> None:
    """Close ``socket``; stop the authenticator when no CURVE server socket is left."""
    global _authenticator
    socket.close(linger=linger_ms)
    domain = _servers.pop(id(socket), None)
    if domain is not None and not _servers and _authenticator is not None:
        _authenticator.stop()
        _authenticator = None
