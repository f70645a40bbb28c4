"""The trigger policy: a small pure state machine fed with every decoded frame.

It decides, frame by frame, whether the closed loop should fire, and why it did not when it
would have. It knows nothing of outputs, arming or clocks: the caller passes the time, the
frame's age and whether the decoder is unsure, so the same machine runs live and offline.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.config import from_dict, read_toml
from rtdecode.errors import ConfigError
from rtdecode.policy._armed import ArmedConfig, ArmedRule
from rtdecode.policy._decision import Decision

__all__ = ["RULES", "SUPPRESS_REASONS", "Decision", "Policy", "PolicyConfig"]

_P_CLIP = 1e-4
"""Probabilities are clipped to [_P_CLIP, 1 - _P_CLIP] before the armed rule's logit."""

RULES = ("onset", "state", "armed")
SUPPRESS_REASONS = ("stale", "abstain", "refractory", "rate_cap", "dose_cap")
"""Why a fire was suppressed, in the order they are checked."""


@dataclass(frozen=True)
class PolicyConfig:
    """When to fire.

    The defaults are what nested leave-one-animal-out chose for the live decoder's default
    decision, the fused decision's per-animal state head, for sustained reversal onsets within
    +2.4 s at 0.5 false triggers per minute on new animals without identities
    (``tools/trigger_study.py``, the same choice made on all six animals; docs/results.md): the
    armed rule, armed after 2.4 s below threshold, a 5 s refractory period, and the cross-animal
    threshold ``on`` = 0.643 (logit 0.588), which beat the animal's own budget threshold.
    ``rule = "onset"`` with ``on`` 0.9, ``off`` 0.2 and a 20 s refractory period are issue 9's.

    Parameters
    ----------
    rule
        ``onset``: fire once when the probability of ``state`` rises above ``on`` (after having
        been below ``off``) and stays there for ``min_frames`` frames. ``state``: hold the
        output on while in ``state`` (entered as for ``onset``, left when the probability falls
        below ``off``), for at most ``max_state_s``. ``armed``: the armed rule
        (:class:`~rtdecode.policy.ArmedRule`) on the logit of the state's probability, at the
        threshold ``logit(on)`` until ``false_per_min`` sets the animal's own (``off`` and
        ``min_frames`` unused); ``refractory_s`` is the rule's refractory period.
    state
        The decoded state whose probability drives the rule.
    on, off
        Hysteresis thresholds on that probability (``off <= on``).
    min_frames
        Consecutive frames above ``on`` needed to fire.
    pulse_ms
        Length of one pulse (``onset`` rule).
    refractory_s
        Least time from one fire to the next.
    max_per_min
        Rate cap: most fires in any 60 s.
    max_pulses, max_light_s
        Session dose caps: most fires, most seconds of light (``None``: no cap).
    abstain
        ``(low, high)``: the abstain band this policy was tuned with. Live, it is the decoder's
        one band (the decision step marks such frames ``uncertain``, and :meth:`Policy.step`
        trusts that); offline, :func:`replay_policy` applies it.
    stale_ms
        A decision on a frame received more than this long before it could be acted on is
        suppressed, never fired late.
    max_state_s
        Longest hold of the ``state`` rule.
    arm_s
        ``armed`` rule: least time the score sat below the threshold before a crossing fires.
    false_per_min
        ``B``: when self-calibration ends, the ``armed`` rule's threshold becomes the animal's
        own, the lowest at which it would have fired at most ``B`` false triggers per minute on
        the calibration period (:func:`~rtdecode.policy.calibration_threshold`). Implies the
        ``armed`` rule. ``None``: the threshold stays ``logit(on)``.
    prior_evidence
        ``n0`` of the budget threshold's shrinkage toward ``cross_threshold`` (0: the animal's
        own threshold alone; ``inf``: ``max(own, cross)``).
    cross_threshold
        The cross-animal threshold (a logit) the budget threshold is shrunk toward; ``None``:
        none (the animal's own).
    """

    rule: str = "armed"
    state: str = "reversal"
    on: float = 0.643
    off: float = 0.2
    min_frames: int = 1
    pulse_ms: float = 500.0
    refractory_s: float = 5.0
    max_per_min: int = 6
    max_pulses: int | None = None
    max_light_s: float | None = None
    abstain: tuple[float, float] | None = None
    stale_ms: float = 100.0
    max_state_s: float = 10.0
    arm_s: float = 2.4
    false_per_min: float | None = None
    prior_evidence: float = 0.0
    cross_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.false_per_min is not None and self.rule == "onset":
            object.__setattr__(self, "rule", "armed")  # the budget sets the armed rule's threshold
        if self.false_per_min is not None and self.rule != "armed":
            raise ConfigError(
                f"policy.false_per_min sets the armed rule's threshold; policy.rule is "
                f"{self.rule!r}: drop rule or set it to 'armed'"
            )
        if self.rule not in RULES:
            raise ConfigError(f"policy.rule must be one of {RULES}, got {self.rule!r}")
        if not 0.0 <= self.off <= self.on <= 1.0:
            raise ConfigError(f"policy needs 0 <= off <= on <= 1, got off={self.off}, on={self.on}")
        if self.abstain is not None:
            if len(self.abstain) != 2 or not 0.0 <= self.abstain[0] < self.abstain[1] <= 1.0:
                raise ConfigError(
                    f"policy.abstain must be [low, high] with 0 <= low < high <= 1, got {self.abstain}"
                )
            object.__setattr__(self, "abstain", (float(self.abstain[0]), float(self.abstain[1])))
        checks = {
            "min_frames": self.min_frames >= 1,
            "pulse_ms": self.pulse_ms > 0,
            "refractory_s": self.refractory_s >= 0,
            "max_per_min": self.max_per_min >= 1,
            "stale_ms": self.stale_ms > 0,
            "max_state_s": self.max_state_s > 0,
            "max_pulses": self.max_pulses is None or self.max_pulses >= 0,
            "max_light_s": self.max_light_s is None or self.max_light_s >= 0,
            "arm_s": self.arm_s >= 0,
            "false_per_min": self.false_per_min is None or self.false_per_min > 0,
            "prior_evidence": self.prior_evidence >= 0,
            "cross_threshold": self.cross_threshold is None or math.isfinite(self.cross_threshold),
            "on": self.rule != "armed" or 0.0 < self.on < 1.0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(
                f"policy setting(s) out of range: {', '.join(f'{n}={getattr(self, n)}' for n in bad)}"
            )

    @classmethod
    def from_toml(cls, path: Path | str) -> PolicyConfig:
        """Load a policy file: flat keys named as the fields (unknown keys are an error)."""
        values = dict(read_toml(path))
        if isinstance(values.get("abstain"), list):
            values["abstain"] = tuple(values["abstain"])
        return from_dict(cls, values, f"policy file {path}")

    def with_overrides(self, **overrides: Any) -> PolicyConfig:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_json(self) -> str:
        """The policy as JSON (kept beside the events it produced)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


class Policy:
    """The trigger state machine (see :class:`PolicyConfig` for the rules).

    Parameters
    ----------
    config
        The policy.
    states
        The decoder's state names; ``config.state`` must be one of them.

    Attributes
    ----------
    pulses, light_s
        Dose delivered so far: fires, and seconds of light they commanded.
    """

    def __init__(self, config: PolicyConfig, states: tuple[str, ...]) -> None:
        if config.state not in states:
            raise ConfigError(
                f"policy.state {config.state!r} is not a state of this model {states}; "
                "set policy.state to one of them"
            )
        self.config = config
        self._index = states.index(config.state)
        self._primed = False  # the probability was below `off` since the last onset
        self._above = 0
        self._last_fire = -math.inf
        self._recent: deque[float] = deque(maxlen=config.max_per_min)
        self._hold_start: float | None = None
        self.pulses = 0
        self.light_s = 0.0
        self.armed_rule: ArmedRule | None = None
        if config.rule == "armed":
            on = config.on
            self.armed_rule = ArmedRule(
                ArmedConfig(
                    math.log(on / (1.0 - on)), config.arm_s, config.refractory_s, config.pulse_ms
                )
            )

    def set_threshold(self, threshold: float) -> None:
        """The ``armed`` rule's threshold (a logit) from now on; its state is kept."""
        rule = self.armed_rule
        if rule is None:
            raise ConfigError(f"only the armed rule takes a threshold, not {self.config.rule!r}")
        rule.config = dataclasses.replace(rule.config, threshold=float(threshold))

    def step(
        self, probs: np.ndarray, now_s: float, age_s: float = 0.0, uncertain: bool = False
    ) -> Decision | None:
        """Feed one decoded frame.

        Parameters
        ----------
        probs
            The frame's state probabilities.
        now_s
            Monotonic time in seconds (live: the host clock when acting; offline: frame time).
        age_s
            Seconds from the frame's arrival to now.
        uncertain
            The decision step abstained on this frame (its abstain band, or unhealthy input):
            the policy takes no decision on it, and does not check a band of its own.

        Returns
        -------
        Decision or None
            What happened on this frame, if anything.
        """
        config = self.config
        p = float(probs[self._index])
        if self.armed_rule is not None:
            return self._armed(p, now_s, age_s, uncertain)
        if self._hold_start is not None:
            if now_s - self._hold_start >= config.max_state_s:
                self._hold_start = None  # the pulse itself has ended
            elif p < config.off and not uncertain:
                unused = config.max_state_s - (now_s - self._hold_start)
                self.light_s -= unused
                self._hold_start = None
                self._primed = True
                return Decision("off")
            else:
                return None
        unsure = uncertain  # the decision step abstained (its band, or unhealthy input)
        if p < config.off and not unsure:
            self._primed = True
            self._above = 0
            return None
        if p <= config.on or not self._primed:
            if not unsure:
                self._above = 0
            return None
        if self._above + 1 < config.min_frames:
            if not unsure:
                self._above += 1
            return None
        self._primed = False
        self._above = 0
        pulse_ms = config.pulse_ms if config.rule == "onset" else config.max_state_s * 1e3
        reason = "abstain" if unsure else self._blocked(now_s, age_s, pulse_ms)
        if reason:
            return Decision("suppressed", reason, pulse_ms)
        self._last_fire = now_s
        self._recent.append(now_s)
        self.pulses += 1
        self.light_s += pulse_ms / 1e3
        if config.rule == "state":
            self._hold_start = now_s
        return Decision("fire", "", pulse_ms)

    def _armed(self, p: float, now_s: float, age_s: float, uncertain: bool) -> Decision | None:
        """The armed rule on the probability's logit, then the caps it does not know."""
        assert self.armed_rule is not None
        q = min(max(p, _P_CLIP), 1.0 - _P_CLIP)
        decision = self.armed_rule.step(now_s, math.log(q / (1.0 - q)), uncertain)
        if decision is None or decision.kind != "fire":
            return decision
        reason = self._blocked(now_s, age_s, decision.pulse_ms)
        if reason:
            return Decision("suppressed", reason, decision.pulse_ms)
        self._last_fire = now_s
        self._recent.append(now_s)
        self.pulses += 1
        self.light_s += decision.pulse_ms / 1e3
        return decision

    def _blocked(self, now_s: float, age_s: float, pulse_ms: float) -> str:
        config = self.config
        if age_s * 1e3 > config.stale_ms:
            return "stale"
        if now_s - self._last_fire < config.refractory_s:
            return "refractory"
        recent = self._recent
        if len(recent) == recent.maxlen and now_s - recent[0] < 60.0:
            return "rate_cap"
        if config.max_pulses is not None and self.pulses >= config.max_pulses:
            return "dose_cap"
        if config.max_light_s is not None and self.light_s + pulse_ms / 1e3 > config.max_light_s:
            return "dose_cap"
        return ""
