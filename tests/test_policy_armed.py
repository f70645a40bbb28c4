"""The armed trigger rule on hand-built score traces: exact fire times and suppressions."""

from __future__ import annotations

import numpy as np
import pytest

from rtdecode.errors import ConfigError
from rtdecode.policy._armed import ArmedConfig, ArmedRule, armed_fires, replay_armed

pytestmark = pytest.mark.timeout(60)

STEP = 0.5


def _trace(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(len(values)) * STEP, np.asarray(values, float)


def test_fires_only_after_the_score_sat_below_for_the_arming_time() -> None:
    # below from 0.0; crossing at 1.5 (armed 1.5 s); below from 2.0, crossing at 2.5 (0.5 s: no);
    # below from 3.0, crossing at 4.5 (1.5 s: yes)
    t, s = _trace([0, 0, 0, 2, 0, 2, 0, 0, 0, 2, 2, 0])
    fires = replay_armed(t, s, ArmedConfig(threshold=1.0, arm_s=1.0, refractory_s=0.0))
    assert fires.tolist() == [1.5, 4.5]


def test_the_arming_time_is_inclusive_and_measured_from_the_first_frame_below() -> None:
    t, s = _trace([0, 0, 2])  # below from 0.0, crossing at 1.0: exactly 1.0 s below
    assert replay_armed(t, s, ArmedConfig(1.0, arm_s=1.0, refractory_s=0)).tolist() == [1.0]
    assert replay_armed(t, s, ArmedConfig(1.0, arm_s=1.01, refractory_s=0)).tolist() == []


def test_a_score_high_from_the_start_never_fires_until_it_was_below() -> None:
    t, s = _trace([2, 2, 2, 0, 2])
    assert replay_armed(t, s, ArmedConfig(1.0, arm_s=0.0, refractory_s=0)).tolist() == [2.0]


def test_refractory_suppresses_and_keeps_the_time_of_the_last_fire() -> None:
    # armed crossings at 1.5, 4.5 and 7.5; with 3.5 s refractory the one at 4.5 is suppressed and
    # 7.5 is measured from 1.5 (the last fire), so it fires
    t, s = _trace([0, 0, 0, 2, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 2])
    rule = ArmedRule(ArmedConfig(1.0, arm_s=1.0, refractory_s=3.5))
    out = [
        (float(ti), d.kind, d.reason)
        for ti, si in zip(t, s, strict=True)
        if (d := rule.step(ti, si))
    ]
    assert out == [(1.5, "fire", ""), (4.5, "suppressed", "refractory"), (7.5, "fire", "")]
    # a refractory period equal to the gap lets the second crossing fire
    fires = replay_armed(t, s, ArmedConfig(1.0, arm_s=1.0, refractory_s=3.0))
    assert fires.tolist() == [1.5, 4.5, 7.5]


def test_an_uncertain_crossing_is_suppressed_and_disarms() -> None:
    t, s = _trace([0, 0, 2, 2, 0, 0, 2])
    uncertain = np.array([0, 0, 1, 0, 0, 0, 0], bool)
    rule = ArmedRule(ArmedConfig(1.0, arm_s=0.5, refractory_s=0.0))
    out = [
        (float(ti), d.kind, d.reason)
        for ti, si, u in zip(t, s, uncertain, strict=True)
        if (d := rule.step(ti, si, bool(u)))
    ]
    # the frame after the suppressed crossing is still above: not armed, no fire
    assert out == [(1.0, "suppressed", "abstain"), (3.0, "fire", "")]


def test_a_missing_score_breaks_the_run_below() -> None:
    t, s = _trace([0, 0, np.nan, 0, 2, 0, 0, 0, 2])
    fires = replay_armed(t, s, ArmedConfig(1.0, arm_s=1.0, refractory_s=0.0))
    assert fires.tolist() == [4.0]  # 1.5 -> 2.0 is 0.5 s below after the gap: no; 2.5 -> 4.0 yes


def test_vectorised_rule_fires_as_the_state_machine_at_every_threshold() -> None:
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.55, 0.65, 600))
    s = np.convolve(rng.normal(size=600), np.ones(4) / 4, mode="same")
    s[rng.random(600) < 0.02] = np.nan
    uncertain = rng.random(600) < 0.05
    thresholds = np.quantile(s[np.isfinite(s)], np.linspace(0.05, 0.99, 25))
    for arm, refr in ((0.0, 0.0), (1.2, 5.0), (3.0, 2.0)):
        fires = armed_fires(t, s, thresholds, arm, refr, uncertain)
        for k, th in enumerate(thresholds):
            expect = replay_armed(t, s, ArmedConfig(float(th), arm, refr), uncertain)
            assert t[fires[k]].tolist() == expect.tolist()


@pytest.mark.parametrize(
    "bad", [dict(threshold=np.nan), dict(arm_s=-1.0), dict(refractory_s=-0.1), dict(pulse_ms=0)]
)
def test_bad_settings_name_the_setting(bad: dict) -> None:
    settings = dict(threshold=0.5) | bad
    with pytest.raises(ConfigError, match=next(iter(bad))):
        ArmedConfig(**settings)
