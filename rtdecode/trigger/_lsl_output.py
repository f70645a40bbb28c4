"""LSL trigger output: a marker stream (one string channel, irregular rate, type ``Markers``)."""

from __future__ import annotations

import time
from typing import Any

from rtdecode.policy import TriggerEvent
from rtdecode.stream._lsl_common import pylsl
from rtdecode.trigger._output import TriggerOutput

__all__ = ["LslMarkerOutput"]

_LINGER_S = 0.25


class LslMarkerOutput(TriggerOutput):
    """Push each event's JSON as one marker, stamped with LSL's clock at push.

    LabRecorder records it beside the frame stream, on the same clock.
    """

    def __init__(self, name: str, uri: str) -> None:
        self.uri = uri
        self._name = name
        self._outlet: Any = None

    def open(self) -> None:
        """Create the outlet."""
        lsl = pylsl(f"publishing trigger markers to LSL stream '{self._name}'")
        info = lsl.StreamInfo(
            self._name, "Markers", 1, lsl.IRREGULAR_RATE, lsl.cf_string, f"rtdecode-{self._name}"
        )
        info.desc().append_child_value("producer", "rtdecode")
        self._outlet = lsl.StreamOutlet(info)

    def emit(self, event: TriggerEvent) -> None:
        """Push one marker."""
        self._outlet.push_sample([event.to_json()])

    def close(self) -> None:
        """Drop the outlet, after giving connected inlets time to receive the last markers
        (the final ``disarm`` is pushed just before; dropping the outlet at once can lose it)."""
        if self._outlet is not None and self._outlet.have_consumers():
            time.sleep(_LINGER_S)
        self._outlet = None
