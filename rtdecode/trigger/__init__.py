"""Closing the loop: when to fire (the policy) and, live, what fires."""

from rtdecode.trigger._offline import replay_policy
from rtdecode.trigger._policy import RULES, SUPPRESS_REASONS, Decision, Policy, PolicyConfig

__all__ = ["RULES", "SUPPRESS_REASONS", "Decision", "Policy", "PolicyConfig", "replay_policy"]
