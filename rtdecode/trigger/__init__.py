"""Closing the loop: when to fire (the policy) and, live, what fires."""

from rtdecode.trigger._controller import MIN_WATCHDOG_S, Safety, TriggerController
from rtdecode.trigger._emulator import DeviceEmulator, LightChange
from rtdecode.trigger._event import KINDS, TriggerEvent
from rtdecode.trigger._offline import replay_policy
from rtdecode.trigger._outputs import TriggerOutput, open_trigger_output
from rtdecode.trigger._policy import RULES, SUPPRESS_REASONS, Decision, Policy, PolicyConfig
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
