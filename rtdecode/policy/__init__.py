"""The trigger policy, pure: its rules, its offline replay and the event type it produces.

Nothing here touches a socket, a device or a clock: the live controller
(:mod:`rtdecode.trigger`), training's evaluation and calibration's simulated sessions all run
the same state machine.
"""

from rtdecode.policy._armed import ArmedConfig, ArmedRule, armed_fires, replay_armed
from rtdecode.policy._band import DEFAULT_ABSTAIN, in_band
from rtdecode.policy._budget import ThresholdChoice, budget_threshold, calibration_threshold
from rtdecode.policy._event import KINDS, TRIGGER_VERSION, TriggerEvent
from rtdecode.policy._offline import replay_policy
from rtdecode.policy._policy import RULES, SUPPRESS_REASONS, Decision, Policy, PolicyConfig

__all__ = [
    "DEFAULT_ABSTAIN",
    "KINDS",
    "RULES",
    "SUPPRESS_REASONS",
    "TRIGGER_VERSION",
    "ArmedConfig",
    "ArmedRule",
    "Decision",
    "Policy",
    "PolicyConfig",
    "ThresholdChoice",
    "TriggerEvent",
    "armed_fires",
    "budget_threshold",
    "calibration_threshold",
    "in_band",
    "replay_armed",
    "replay_policy",
]
