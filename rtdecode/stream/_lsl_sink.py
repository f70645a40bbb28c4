"""LSL outlet sink: one float32 channel per state probability, labelled with the state names."""

from __future__ import annotations

from typing import Any

from rtdecode.stream._address import Address
from rtdecode.stream._lsl_common import pylsl, set_channel_labels
from rtdecode.stream._sink import Prediction, Sink

__all__ = ["LslSink"]


class LslSink(Sink):
    """Push each prediction's probabilities as one sample of an irregular-rate LSL stream.

    Parameters
    ----------
    address
        Parsed ``lsl://NAME`` address: the outlet's stream name.
    frame_times
        Stamp each prediction with its frame's time (right when the frames came from LSL, so
        their times are on LSL's clock: recorders then line predictions up with frames).
        Otherwise samples carry LSL's ``local_clock()`` at publish.

    Notes
    -----
    Stream type ``"BehaviorState"``; ``desc/channels`` labels each channel with its state's
    name (unit ``"probability"``), so LSL viewers and LabRecorder show what it is.
    """

    def __init__(self, address: Address, frame_times: bool = False) -> None:
        self.uri = address.uri
        self._name = address.target
        self._frame_times = frame_times
        self._outlet: Any = None

    def open(self, states: tuple[str, ...]) -> None:
        """Create the outlet."""
        lsl = pylsl(f"publishing predictions to LSL stream '{self._name}'")
        info = lsl.StreamInfo(
            self._name,
            "BehaviorState",
            len(states),
            lsl.IRREGULAR_RATE,
            lsl.cf_float32,
            f"rtdecode-{self._name}",
        )
        set_channel_labels(info, states, "probability", "Probability")
        info.desc().append_child_value("producer", "rtdecode")
        self._outlet = lsl.StreamOutlet(info)

    def publish(self, prediction: Prediction) -> None:
        """Push one sample."""
        self._outlet.push_sample(prediction.probs, prediction.t if self._frame_times else 0.0)

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Drop the outlet."""
        self._outlet = None
