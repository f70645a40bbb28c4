"""Transport only: the wire protocol, addresses, sockets, sources, sinks and the session file.

Nothing here decodes: :mod:`rtdecode.live` joins sources and sinks to an engine. What needs
h5py (the session file, and recordings replayed as a stream) is imported on first use, so a
producer that only encodes frames loads neither h5py nor the decoder.
"""

import importlib
from typing import TYPE_CHECKING, Any

from rtdecode.stream._address import Address, parse_address, stream_address
from rtdecode.stream._behavior import BehaviorTrack
from rtdecode.stream._behavior_source import BehaviorReceiver
from rtdecode.stream._fair import FairShare
from rtdecode.stream._frame_publishers import (
    FramePublisher,
    LslFramePublisher,
    ZmqFramePublisher,
    open_frame_publisher,
)
from rtdecode.stream._open import open_sink, open_source
from rtdecode.stream._protocol import (
    BEHAVIOR_MALFORMED_REASONS,
    BEHAVIOR_TOPIC,
    FRAME_TOPIC,
    MALFORMED_REASONS,
    PRED_TOPIC,
    TRIGGER_TOPIC,
    BehaviorMessage,
    FrameMessage,
    MalformedMessage,
    encode_behavior,
    encode_frame,
    encode_prediction,
    encode_trigger,
    parse_behavior,
    parse_frame,
    parse_prediction,
    parse_trigger,
)
from rtdecode.stream._sink import FrameTiming, Prediction, Sink
from rtdecode.stream._source import Chunk, Source
from rtdecode.stream._threaded import ThreadedSource
from rtdecode.stream._zmq_socket import check_exposure, close_socket, open_socket

if TYPE_CHECKING:
    from rtdecode.stream._player import play
    from rtdecode.stream._replay import Faults, ReplaySource
    from rtdecode.stream._session_activity import ActivityLayout, SessionActivity, read_activity
    from rtdecode.stream._session_file import (
        BEHAVIOR_COLUMNS,
        FRAME_COLUMNS,
        SessionData,
        SessionFile,
        is_session_file,
        read_session,
    )

_LAZY = {
    "play": "_player",
    "Faults": "_replay",
    "ReplaySource": "_replay",
    **dict.fromkeys(("ActivityLayout", "SessionActivity", "read_activity"), "_session_activity"),
    **dict.fromkeys(
        (
            "BEHAVIOR_COLUMNS",
            "FRAME_COLUMNS",
            "SessionData",
            "SessionFile",
            "is_session_file",
            "read_session",
        ),
        "_session_file",
    ),
}
"""Names imported on first use -> their module (they need h5py)."""

__all__ = [
    "BEHAVIOR_COLUMNS",
    "BEHAVIOR_MALFORMED_REASONS",
    "BEHAVIOR_TOPIC",
    "FRAME_COLUMNS",
    "FRAME_TOPIC",
    "MALFORMED_REASONS",
    "PRED_TOPIC",
    "TRIGGER_TOPIC",
    "ActivityLayout",
    "Address",
    "BehaviorMessage",
    "BehaviorReceiver",
    "BehaviorTrack",
    "Chunk",
    "FairShare",
    "Faults",
    "FrameMessage",
    "FramePublisher",
    "FrameTiming",
    "LslFramePublisher",
    "MalformedMessage",
    "Prediction",
    "ReplaySource",
    "SessionActivity",
    "SessionData",
    "SessionFile",
    "Sink",
    "Source",
    "ThreadedSource",
    "ZmqFramePublisher",
    "check_exposure",
    "close_socket",
    "encode_behavior",
    "encode_frame",
    "encode_prediction",
    "encode_trigger",
    "is_session_file",
    "open_frame_publisher",
    "open_sink",
    "open_socket",
    "open_source",
    "parse_address",
    "parse_behavior",
    "parse_frame",
    "parse_prediction",
    "parse_trigger",
    "play",
    "read_activity",
    "read_session",
    "stream_address",
]


def __getattr__(name: str) -> Any:
    """Import the names of :data:`_LAZY` on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f"rtdecode.stream.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rtdecode.stream' has no attribute {name!r}")
