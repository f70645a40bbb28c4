"""Where the page listens: ``[HOST:]PORT``, loopback or not, and whether the port is free."""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass

from rtdecode.errors import ConfigError

__all__ = ["ViewAddress", "check_free", "parse_view_address"]


@dataclass(frozen=True)
class ViewAddress:
    """Where the page listens."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach it."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_view_address(text: str) -> ViewAddress:
    """``PORT`` or ``HOST:PORT`` (loopback when no host is given).

    Raises
    ------
    ConfigError
        Naming the value and the form expected.
    """
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            f"view address '{text}': give PORT or HOST:PORT, for example 5006 or 0.0.0.0:5006"
        )
    return ViewAddress(host, int(port))


def check_free(address: ViewAddress) -> None:
    """Fail with a clear message when the port is taken (before anything else starts)."""
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address.host, address.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"view port {address.port} on {address.host} is in use; choose another "
                    f"with --view HOST:PORT, or stop the program that holds it "
                    f"(ss -ltnp 'sport = :{address.port}')"
                ) from None
            raise ConfigError(f"cannot listen on {address.host}:{address.port} ({exc})") from None
