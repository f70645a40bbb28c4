"""Shared helpers of the closed-loop tests: predictions fed straight to a controller."""

from __future__ import annotations

import time

import numpy as np

from rtdecode.stream import Prediction
from rtdecode.trigger._controller import TriggerController

STATES = ("forward", "reversal")


def feed(
    controller: TriggerController, seq: int, t: float, p_reversal: float, uncertain: bool = False
) -> None:
    """Hand the controller one fresh prediction (received now) with this reversal probability."""
    probs = np.array([1.0 - p_reversal, p_reversal], np.float32)
    controller.publish(
        Prediction(seq, t, probs, int(p_reversal > 0.5), time.perf_counter_ns(), 0, uncertain)
    )


def pulses(controller: TriggerController) -> list:
    """Events that drove a pulse."""
    return [e for e in controller.events if e.kind in ("fire", "sham")]
