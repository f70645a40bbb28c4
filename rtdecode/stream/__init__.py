"""The live path: wire protocol, sources, windowing, sinks, and the pipeline that joins them."""

from rtdecode.stream._address import Address, parse_address, stream_address
from rtdecode.stream._behavior import BehaviorTrack
from rtdecode.stream._behavior_source import BehaviorReceiver
from rtdecode.stream._frame_publishers import (
    FramePublisher,
    LslFramePublisher,
    ZmqFramePublisher,
    open_frame_publisher,
)
from rtdecode.stream._latency import LatencyHistogram
from rtdecode.stream._open import open_sink, open_source
from rtdecode.stream._pipeline import STAGES, Pipeline
from rtdecode.stream._player import play
from rtdecode.stream._protocol import (
    BEHAVIOR_MALFORMED_REASONS,
    MALFORMED_REASONS,
    BehaviorMessage,
    FrameMessage,
    MalformedMessage,
    encode_behavior,
    encode_frame,
    encode_prediction,
    parse_behavior,
    parse_frame,
    parse_prediction,
)
from rtdecode.stream._replay import Faults, ReplaySource
from rtdecode.stream._session_file import BEHAVIOR_COLUMNS, FRAME_COLUMNS, SessionFile
from rtdecode.stream._sink import FrameTiming, Prediction, Sink
from rtdecode.stream._source import Chunk, Source
from rtdecode.stream._streams import StreamSet
from rtdecode.stream._windower import Windower

__all__ = [
    "BEHAVIOR_COLUMNS",
    "BEHAVIOR_MALFORMED_REASONS",
    "FRAME_COLUMNS",
    "MALFORMED_REASONS",
    "STAGES",
    "Address",
    "BehaviorMessage",
    "BehaviorReceiver",
    "BehaviorTrack",
    "Chunk",
    "Faults",
    "FrameMessage",
    "FramePublisher",
    "FrameTiming",
    "LatencyHistogram",
    "LslFramePublisher",
    "MalformedMessage",
    "Pipeline",
    "Prediction",
    "ReplaySource",
    "SessionFile",
    "Sink",
    "Source",
    "StreamSet",
    "Windower",
    "ZmqFramePublisher",
    "encode_behavior",
    "encode_frame",
    "encode_prediction",
    "open_frame_publisher",
    "open_sink",
    "open_source",
    "parse_address",
    "parse_behavior",
    "parse_frame",
    "parse_prediction",
    "play",
    "stream_address",
]
