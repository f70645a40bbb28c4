"""Closing the loop live: the controller, its outputs (serial device, ZeroMQ, LSL markers),
shams and the session report.

When to fire is the pure policy of :mod:`rtdecode.policy`; its names are re-exported here for
the code that drives a controller.
"""

from rtdecode.policy import (
    KINDS,
    RULES,
    SUPPRESS_REASONS,
    Decision,
    Policy,
    PolicyConfig,
    TriggerEvent,
    replay_policy,
)
from rtdecode.trigger._controller import MIN_WATCHDOG_S, Safety, TriggerController
from rtdecode.trigger._emulator import DeviceEmulator, LightChange
from rtdecode.trigger._output import TriggerOutput
from rtdecode.trigger._outputs import open_trigger_output
from rtdecode.trigger._sham import PoissonSham, Sham, YokedSham, open_sham

__all__ = [
    "KINDS",
    "MIN_WATCHDOG_S",
    "RULES",
    "SUPPRESS_REASONS",
    "Decision",
    "DeviceEmulator",
    "LightChange",
    "PoissonSham",
    "Policy",
    "PolicyConfig",
    "Safety",
    "Sham",
    "TriggerController",
    "TriggerEvent",
    "TriggerOutput",
    "YokedSham",
    "open_sham",
    "open_trigger_output",
    "replay_policy",
]
