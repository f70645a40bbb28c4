"""What the trigger policy decided on one frame (every rule returns it)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Decision"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Something the policy decided on one frame.

    Attributes
    ----------
    kind
        ``fire``, ``suppressed`` (would have fired), or ``off`` (``state`` rule: the state
        ended before ``max_state_s``).
    reason
        For ``suppressed``, one of :data:`rtdecode.policy.SUPPRESS_REASONS`; empty otherwise.
    pulse_ms
        Pulse length of a fire (or the one suppressed); 0 for ``off``.
    """

    kind: str
    reason: str = ""
    pulse_ms: float = 0.0
