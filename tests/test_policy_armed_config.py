"""The armed rule as the live policy: ``PolicyConfig(rule="armed")`` / ``false_per_min``."""

from __future__ import annotations

import numpy as np
import pytest

from rtdecode.errors import ConfigError
from rtdecode.live import resolve_run_config
from rtdecode.policy import ArmedConfig, Policy, PolicyConfig, replay_armed

STATES = ("forward", "reversal")


def _fires(policy: Policy, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    out = []
    for now, q in zip(t, p, strict=True):
        decision = policy.step(np.array([1 - q, q]), float(now))
        if decision is not None and decision.kind == "fire":
            out.append(float(now))
    return np.asarray(out)


def test_the_live_policy_fires_as_the_pure_armed_rule_on_the_logit() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(2000) * 0.6
    p = 1 / (1 + np.exp(-(2 * np.sin(t / 7) + rng.normal(0, 1, len(t)))))
    config = PolicyConfig(false_per_min=0.5, max_per_min=60)  # no rate cap in the way
    assert config.rule == "armed" and (config.arm_s, config.refractory_s) == (2.4, 5.0)
    policy = Policy(config, STATES)
    policy.set_threshold(0.4)
    q = np.clip(p, 1e-4, 1 - 1e-4)
    expected = replay_armed(t, np.log(q / (1 - q)), ArmedConfig(0.4, 2.4, 5.0, 500.0))
    got = _fires(policy, t, p)
    assert len(expected) > 20
    np.testing.assert_array_equal(got, expected)


def test_before_a_budget_threshold_the_rule_fires_at_logit_on() -> None:
    t = np.arange(10) * 0.6
    p = np.array([0.1] * 4 + [0.85, 0.1, 0.1, 0.1, 0.95, 0.1])
    assert list(_fires(Policy(PolicyConfig(rule="armed", on=0.9), STATES), t, p)) == [t[8]]


def test_false_per_min_needs_the_armed_rule_and_a_closed_loop() -> None:
    with pytest.raises(ConfigError, match="false_per_min"):
        PolicyConfig(rule="state", false_per_min=0.5)
    with pytest.raises(ConfigError, match="--trigger"):
        resolve_run_config({}, {"policy": {"false_per_min": 0.5}})


def test_the_armed_rule_gets_its_own_refractory_and_no_default_band() -> None:
    for policy in ({"false_per_min": 0.5}, {}):  # the armed rule is the default rule
        config = resolve_run_config({}, {"policy": policy}, trigger=True)
        assert config.policy is not None and config.policy.rule == "armed"
        assert config.policy.refractory_s == 5.0
        assert config.decoder.abstain is None and config.policy.abstain is None
    config = resolve_run_config({}, {"policy": {"rule": "onset"}}, trigger=True)
    assert config.policy is not None and config.decoder.abstain == config.policy.abstain
    config = resolve_run_config(
        {}, {"policy": {"false_per_min": 0.5, "abstain": (0.3, 0.7)}}, trigger=True
    )
    assert config.decoder.abstain == (0.3, 0.7)
