"""The trigger policy run over a decoded recording, as it would have run live."""

from __future__ import annotations

import numpy as np

from rtdecode.policy._band import in_band
from rtdecode.policy._policy import Decision, Policy, PolicyConfig

__all__ = ["replay_policy"]


def replay_policy(
    probs: np.ndarray,
    t: np.ndarray,
    states: tuple[str, ...],
    config: PolicyConfig | None = None,
    uncertain: np.ndarray | None = None,
) -> list[tuple[int, Decision]]:
    """Feed a policy every decoded frame of a recording in order, with frame times as the clock.

    Parameters
    ----------
    probs
        ``(T, S)`` state probabilities per decoded frame.
    t
        ``(T,)`` frame times in seconds.
    states
        The state names of ``probs``' columns.
    config
        The policy (default: :class:`PolicyConfig`'s defaults).
    uncertain
        ``(T,)`` frames the decoder abstained on (default: none); frames whose probability is
        inside ``config.abstain`` are added, as the live decision step would have marked them.

    Returns
    -------
    list of (frame index, Decision)
        Every decision, in order.
    """
    config = config or PolicyConfig()
    policy = Policy(config, states)
    unsure = np.zeros(len(t), bool) if uncertain is None else np.asarray(uncertain, bool)
    if config.abstain is not None:  # the decision step's band, as live
        index = states.index(config.state)
        unsure = unsure | np.array([in_band(float(p[index]), config.abstain) for p in probs], bool)
    decisions = []
    for i in range(len(t)):
        decision = policy.step(probs[i], float(t[i]), 0.0, bool(unsure[i]))
        if decision is not None:
            decisions.append((i, decision))
    return decisions
