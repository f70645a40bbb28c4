"""Transport only: the wire protocol, addresses, sockets, sources, sinks and the session file.

Nothing here decodes: :mod:`rtdecode.live` joins sources and sinks to an engine.
"""

from rtdecode.stream._address import Address, parse_address, stream_address
from rtdecode.stream._behavior import BehaviorTrack
from rtdecode.stream._behavior_source import BehaviorReceiver
from rtdecode.stream._frame_publishers import (
    FramePublisher,
    LslFramePublisher,
    ZmqFramePublisher,
    open_frame_publisher,
)
from rtdecode.stream._open import open_sink, open_source
from rtdecode.stream._player import play
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
from rtdecode.stream._replay import Faults, ReplaySource
from rtdecode.stream._session_file import (
    BEHAVIOR_COLUMNS,
    FRAME_COLUMNS,
    SessionData,
    SessionFile,
    is_session_file,
    read_session,
)
from rtdecode.stream._sink import FrameTiming, Prediction, Sink
from rtdecode.stream._source import Chunk, Source
from rtdecode.stream._zmq_socket import check_exposure, close_socket, open_socket

__all__ = [
    "BEHAVIOR_COLUMNS",
    "BEHAVIOR_MALFORMED_REASONS",
    "BEHAVIOR_TOPIC",
    "FRAME_COLUMNS",
    "FRAME_TOPIC",
    "MALFORMED_REASONS",
    "PRED_TOPIC",
    "TRIGGER_TOPIC",
    "Address",
    "BehaviorMessage",
    "BehaviorReceiver",
    "BehaviorTrack",
    "Chunk",
    "Faults",
    "FrameMessage",
    "FramePublisher",
    "FrameTiming",
    "LslFramePublisher",
    "MalformedMessage",
    "Prediction",
    "ReplaySource",
    "SessionData",
    "SessionFile",
    "Sink",
    "Source",
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
    "read_session",
    "stream_address",
]
