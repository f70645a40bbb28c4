"""The live path: the builder, the runner for one or several streams, the per-stream
processor with its post-inference chain, the windower, self-calibration's glue, and the
configuration they are built from.

Transport (protocol, sockets, sources, sinks, the session file) is :mod:`rtdecode.stream`;
this package joins it to an engine. Build a session with :func:`open_session` from a
:class:`RunConfig` (or a rig file, :func:`load_run_config`).
"""

from rtdecode.live._calibrating import LiveCalibration
from rtdecode.live._chain import Actuator, DecisionStep, PostInference, Tap
from rtdecode.live._config import (
    MAX_NEURONS,
    BehaviorConfig,
    CalibrationSection,
    DecoderConfig,
    RunConfig,
    SafetyConfig,
    SourceConfig,
    ViewConfig,
)
from rtdecode.live._processor import STAGES, StreamProcessor
from rtdecode.live._rig import SECTIONS, load_run_config, render_toml, resolve_run_config
from rtdecode.live._runner import BusyPoll, PollAll, ReadOne, Runner, WaitStrategy
from rtdecode.live._session import Session, open_session
from rtdecode.live._windower import Windower

__all__ = [
    "MAX_NEURONS",
    "SECTIONS",
    "STAGES",
    "Actuator",
    "BehaviorConfig",
    "BusyPoll",
    "CalibrationSection",
    "DecisionStep",
    "DecoderConfig",
    "LiveCalibration",
    "PollAll",
    "PostInference",
    "ReadOne",
    "RunConfig",
    "Runner",
    "SafetyConfig",
    "Session",
    "SourceConfig",
    "StreamProcessor",
    "Tap",
    "ViewConfig",
    "WaitStrategy",
    "Windower",
    "load_run_config",
    "open_session",
    "render_toml",
    "resolve_run_config",
]
