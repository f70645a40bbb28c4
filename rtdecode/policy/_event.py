"""One trigger event: what the closed loop did (or chose not to do) and when."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

__all__ = ["KINDS", "TRIGGER_VERSION", "TriggerEvent"]

TRIGGER_VERSION = 1
"""Version of the trigger message (``v`` in the ZeroMQ and LSL JSON)."""

KINDS = ("fire", "sham", "suppressed", "arm", "disarm", "off")
"""``fire``: a pulse driven by the brain; ``sham``: a control pulse unrelated to it;
``suppressed``: a fire the policy or the interlocks withheld (``reason`` says which);
``arm``/``disarm``: outputs enabled/driven to their safe state (``reason`` says why);
``off``: the ``state`` rule ended its output early."""


@dataclass(slots=True)
class TriggerEvent:
    """One event of the closed loop.

    Attributes
    ----------
    seq, t
        Sequence number and acquisition time of the frame behind the event (the latest frame
        for watchdog events; -1 and NaN before any frame).
    kind
        One of :data:`KINDS`.
    reason
        Why: for ``suppressed`` ``stale``, ``abstain``, ``refractory``, ``rate_cap``,
        ``dose_cap``, ``disarmed``, ``dry_run`` or ``sham``; for ``arm``/``disarm`` ``start``,
        ``stop``, ``rearm``, ``no_frames``, ``latency``, ``layout_reset``, ``malformed``,
        ``output_error`` or ``error``; empty for ``fire``/``sham``/``off``.
    pulse_ms
        Light-on time of the pulse (0 for events that drive no pulse).
    latency_us
        Frame received -> output byte written, microseconds (NaN when nothing was written
        for a frame, e.g. watchdog events).
    """

    seq: int
    t: float
    kind: str
    reason: str
    pulse_ms: float
    latency_us: float = float("nan")

    def to_json(self) -> str:
        """The event as the JSON of the ZeroMQ and LSL outputs (NaN becomes null)."""
        body = {"v": TRIGGER_VERSION, **asdict(self)}
        for key in ("t", "latency_us"):
            if body[key] != body[key]:
                body[key] = None
        return json.dumps(body)
