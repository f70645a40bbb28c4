"""Open a source or a sink from its address."""

from __future__ import annotations

from rtdecode.errors import SourceError
from rtdecode.stream._address import parse_address
from rtdecode.stream._sink import Sink
from rtdecode.stream._source import Source

__all__ = ["open_sink", "open_source"]


def open_source(uri: str, resolve_timeout: float = 10.0, insecure: bool = False) -> Source:
    """The :class:`Source` for ``zmq+tcp://HOST:PORT``, ``zmq+ipc://PATH`` or ``lsl://NAME``.

    Parameters
    ----------
    uri
        Source address (ZeroMQ sources connect unless it ends in ``?bind``).
    resolve_timeout
        Seconds to look for an LSL stream.
    insecure
        Allow a plain-text ZeroMQ bind beyond loopback (refused otherwise).
    """
    address = parse_address(uri)
    if address.kind == "zmq":
        from rtdecode.stream._zmq_source import ZmqSource

        return ZmqSource(address, insecure=insecure)
    if address.kind == "lsl":
        from rtdecode.stream._lsl_source import LslSource

        return LslSource(address, resolve_timeout=resolve_timeout)
    raise SourceError(f"'{uri}' cannot be a source; use zmq+tcp://, zmq+ipc:// or lsl://")


def open_sink(
    uri: str,
    attrs: dict[str, str] | None = None,
    lsl_frame_times: bool = False,
    overwrite: bool = False,
    insecure: bool = False,
    activity: bool = True,
) -> Sink:
    """The :class:`Sink` for ``zmq+tcp://``, ``zmq+ipc://``, ``lsl://NAME`` or ``FILE.h5``.

    Parameters
    ----------
    uri
        Sink address (ZeroMQ sinks bind unless it ends in ``?connect``).
    attrs
        Attributes for a session file's root (source, model, engine, ...).
    lsl_frame_times
        An LSL sink stamps predictions with their frame's time (use when the source is LSL).
    overwrite
        A session file may replace an existing file (otherwise an existing file is refused).
    insecure
        Allow a plain-text ZeroMQ bind beyond loopback (refused otherwise).
    activity
        A session file keeps each published frame's preprocessed row (for the view).
    """
    address = parse_address(uri, allow_file=True)
    if address.kind == "zmq":
        from rtdecode.stream._zmq_sink import ZmqSink

        return ZmqSink(address, insecure=insecure)
    if address.kind == "lsl":
        from rtdecode.stream._lsl_sink import LslSink

        return LslSink(address, frame_times=lsl_frame_times)
    from rtdecode.stream._session_file import SessionFile

    return SessionFile(address.target, attrs, overwrite=overwrite, activity=activity)
