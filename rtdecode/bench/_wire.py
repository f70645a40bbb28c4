"""The few wire-level helpers the benchmark's peers need beyond :mod:`rtdecode.stream`."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth

from rtdecode.stream import FRAME_TOPIC, PRED_TOPIC

__all__ = [
    "FRAME_TOPIC",
    "PRED_TOPIC",
    "BenchKeys",
    "free_tcp_port",
    "free_tcp_ports",
    "message_seq",
]


def message_seq(parts: list[bytes]) -> int:
    """Return the ``seq`` of a protocol v1 frame or prediction (both carry it in part 1).

    Only the JSON part is read, so the bare hop measures transport, not payload validation.
    """
    return int(json.loads(parts[1])["seq"])


def free_tcp_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (for a peer that must bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_tcp_ports(count: int, attempts: int = 50) -> int:
    """Return the first of ``count`` consecutive TCP ports on 127.0.0.1 that were free a moment
    ago (a decoder with ``count`` sources binds its prediction sinks on consecutive ports)."""
    for _ in range(attempts):
        base = free_tcp_port()
        if base + count - 1 > 65535:
            continue
        probes: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise OSError(f"found no {count} consecutive free TCP ports on 127.0.0.1 in {attempts} tries")


@dataclass(frozen=True)
class BenchKeys:
    """CURVE keys of a ``bench --curve`` run: the binding sides are servers, the rest clients.

    The producer and the decoder's prediction sink bind with the server key pair and let in
    the client key; the decoder's source and the consumer connect with the client key pair.

    Parameters
    ----------
    folder
        Where :meth:`make` wrote them.
    """

    folder: str

    @classmethod
    def make(cls, folder: Path) -> BenchKeys:
        """Write a server and a client key pair, and the folder of allowed clients."""
        allowed = folder / "allowed"
        allowed.mkdir(parents=True, exist_ok=True)
        zmq.auth.create_certificates(str(folder), "server")
        public, _ = zmq.auth.create_certificates(str(folder), "client")
        (allowed / "client.key").write_bytes(Path(public).read_bytes())
        return cls(str(folder))

    @property
    def server_query(self) -> str:
        """Address options of a binding side."""
        return f"key={self.folder}/server.key_secret&clients={self.folder}/allowed"

    @property
    def client_query(self) -> str:
        """Address options of a connecting side."""
        return f"key={self.folder}/client.key_secret&server_key={self.folder}/server.key"

    def make_client(self, socket: zmq.Socket[bytes]) -> None:
        """Set a socket's CURVE client options (before it connects)."""
        public, secret = zmq.auth.load_certificate(f"{self.folder}/client.key_secret")
        socket.curve_publickey, socket.curve_secretkey = public, secret
        socket.curve_serverkey = zmq.auth.load_certificate(f"{self.folder}/server.key")[0]
