"""The false-trigger budget threshold: at most B false triggers per minute on its own calibration
data (synthetic and a real recording), whatever the shrinkage; and the tally it counts with
scores fires exactly as the one scorer does."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from rtdecode.events import SETS, score_fires
from rtdecode.policy._armed import ArmedConfig, armed_fires, replay_armed
from rtdecode.policy._budget import (
    budget_threshold,
    calibration_threshold,
    own_threshold,
    scored_minutes,
    shrink_weight,
    shrunk_threshold,
)
from rtdecode.policy._tally import FrameTally

pytestmark = pytest.mark.timeout(300)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flavell2023"


def _synthetic(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A calibration-length recording: reversal bouts, a score that rises late in them plus noise."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.55, 0.65, n))
    rev = np.zeros(n, bool)
    i = 10
    while i < n - 10:
        i += int(rng.integers(8, 30))
        rev[i : i + int(rng.integers(2, 8))] = True
        i += 8
    score = rng.normal(0, 1, n) + 2.5 * np.roll(rev, 2)
    return t, rev, score


def _false_per_min(
    t: np.ndarray, rev: np.ndarray, score: np.ndarray, config: ArmedConfig, L: float
) -> float:
    """False triggers per minute of the rule at this threshold, scored by the scorer itself."""
    start = float(t[np.flatnonzero(np.isfinite(score))[0]])
    fires = replay_armed(t, score, config)
    result = score_fires(fires, t, rev, start, (L,))
    return result.false[L] / result.minutes


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("budget", [0.5, 1.0, 3.0])
def test_budget_threshold_keeps_false_triggers_within_budget_on_its_calibration(
    seed: int, budget: float
) -> None:
    t, rev, score = _synthetic(seed)
    tally = FrameTally.from_scorer(t, rev, float(t[0]), (2.4,))
    rng = np.random.default_rng(100 + seed)
    for arm, refr in ((0.0, 0.0), (1.2, 5.0), (2.4, 10.0)):
        for cross in (None, float(rng.normal(0, 2)), -10.0, 10.0):
            for n0 in (0.0, 2.0, math.inf):
                choice = budget_threshold(
                    t, score, lambda f: tally.false_counts(f, 2.4), budget, cross, n0, arm, refr
                )
                assert choice.false_at_threshold <= choice.allowed_false
                assert choice.allowed_false == math.floor(budget * choice.minutes + 1e-9)
                if math.isfinite(choice.threshold):
                    config = ArmedConfig(choice.threshold, arm, refr)
                    assert _false_per_min(t, rev, score, config, 2.4) <= budget + 1e-9
                assert choice.threshold >= choice.own_threshold


def test_own_threshold_is_the_lowest_within_budget() -> None:
    t, rev, score = _synthetic(7)
    tally = FrameTally.from_scorer(t, rev, float(t[0]), (1.2,))
    own, candidates, false = own_threshold(
        t, score, lambda f: tally.false_counts(f, 1.2), 2, 1.2, 5.0
    )
    i = int(np.searchsorted(candidates, own))
    assert (false[i:] <= 2).all()
    assert i > 0 and false[i - 1] > 2  # one candidate lower breaks the budget


def test_shrinkage_weight_follows_the_evidence_and_only_raises() -> None:
    # n = B * minutes + 1: 3 minutes at 0.5/min give n = 2.5; n0 = 2.5 halves the weight
    assert shrink_weight(0.5, 3.0, 2.5) == pytest.approx(0.5)
    assert shrink_weight(0.5, 3.0, 0.0) == 1.0
    assert shrink_weight(0.5, 3.0, math.inf) == 0.0
    assert shrink_weight(1.0, 30.0, 2.0) > shrink_weight(1.0, 3.0, 2.0)
    assert shrunk_threshold(1.0, 3.0, 0.5) == 2.0
    assert shrunk_threshold(1.0, -3.0, 0.5) == 1.0  # never below the animal's own
    assert math.isinf(shrunk_threshold(math.inf, 0.0, 0.5))


def test_choice_records_what_it_was_chosen_from() -> None:
    t, rev, score = _synthetic(3)
    tally = FrameTally.from_scorer(t, rev, float(t[0]), (2.4,))
    choice = budget_threshold(
        t, score, lambda f: tally.false_counts(f, 2.4), 0.5, 5.0, 2.0, 1.2, 5.0
    )
    record = choice.as_dict()
    for key in ("threshold", "cross_threshold", "own_threshold", "weight", "evidence", "reason"):
        assert key in record
    assert record["cross_threshold"] == 5.0
    assert record["evidence"] == pytest.approx(0.5 * choice.minutes + 1)
    assert record["minutes"] == pytest.approx(scored_minutes(t, score))
    with pytest.raises(ValueError, match="budget"):
        budget_threshold(t, score, lambda f: tally.false_counts(f, 2.4), 0.0, None, 0, 1.2, 5.0)


@pytest.mark.skipif(not DATA.exists(), reason="needs the shared recordings")
@pytest.mark.parametrize("budget", [0.5, 1.0])
def test_budget_threshold_on_a_real_recordings_calibration_period(budget: float) -> None:
    """The velocity-only trigger's threshold set on a real animal's first 180 s."""
    from rtdecode.data import load_recording

    rec = load_recording(DATA / "2022-07-27-38-data.h5")
    t = np.asarray(rec.timestamps, float)
    t = t - t[0]
    end = int(np.searchsorted(t, 180.0))
    t, rev = t[:end], np.asarray(rec.reversal[:end], bool)
    score = -np.asarray(rec.velocity[:end], float)
    tally = FrameTally.from_scorer(t, rev, 0.0, (1.2, 2.4))
    for L in (1.2, 2.4):
        for cross in (None, float(np.median(score))):
            choice = budget_threshold(
                t, score, lambda f, L=L: tally.false_counts(f, L), budget, cross, 2.0, 1.2, 5.0
            )
            fires = replay_armed(t, score, ArmedConfig(choice.threshold, 1.2, 5.0))
            assert len(fires) > 0  # it does fire on this animal
            assert (
                _false_per_min(t, rev, score, ArmedConfig(choice.threshold, 1.2, 5.0), L) <= budget
            )


@pytest.mark.parametrize("seed", range(3))
def test_tally_scores_fire_sets_as_the_scorer_does(seed: int) -> None:
    t, rev, score = _synthetic(seed, 500)
    start = float(t[120])
    tally = FrameTally.from_scorer(t, rev, start)
    fires = armed_fires(t, score, np.linspace(-1, 3, 15), 0.6, 2.0)
    rng = np.random.default_rng(seed)
    fires = np.vstack([fires, rng.random((10, len(t))) < 0.05])
    for row, expect_fires in zip(fires, t[None, :].repeat(len(fires), 0), strict=True):
        expect = score_fires(expect_fires[row], t, rev, start)
        for L in expect.windows_s:
            assert tally.false_counts(row[None], L)[0] == expect.false[L]
            for s in SETS:
                assert tally.caught(row[None], s, L)[0] == expect.caught[s, L]
                assert tally.targets[s] == expect.onsets[s]
    assert tally.minutes == pytest.approx(score_fires(np.zeros(0), t, rev, start).minutes)


def test_the_live_call_needs_only_the_calibration_period() -> None:
    """What a live decoder has when calibration ends: times, scores, the tracked label."""
    t, rev, score = _synthetic(11)
    score[:40] = np.nan  # the decoder's first window was still filling
    for L in (1.2, 2.4):
        choice = calibration_threshold(t, score, rev, 1.0, 0.5, 2.0, 1.2, 5.0, window_s=L)
        config = ArmedConfig(choice.threshold, 1.2, 5.0)
        assert _false_per_min(t, rev, score, config, L) <= 1.0
        assert choice.minutes == pytest.approx(scored_minutes(t, score))
        assert choice.fires_at_threshold == len(replay_armed(t, score, config))
