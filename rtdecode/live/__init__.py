"""The live path: per-stream processing, the runner for one or several streams, the windower
and the self-calibration glue.

Transport (protocol, sockets, sources, sinks, the session file) is :mod:`rtdecode.stream`;
this package joins it to an engine.
"""

from rtdecode.live._calibrating import LiveCalibration
from rtdecode.live._processor import MAX_NEURONS, STAGES, Pipeline
from rtdecode.live._runner import StreamSet
from rtdecode.live._windower import Windower

__all__ = ["MAX_NEURONS", "STAGES", "LiveCalibration", "Pipeline", "StreamSet", "Windower"]
