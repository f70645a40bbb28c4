"""Event scoring: a synthetic recording with known onsets and known fires, counted exactly."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtdecode.events import SETS, find_onsets, onset_indices, score_fires

DT = 0.6
N = 320
SCORED_FROM = 30.0
# (first frame, frames) of each reversal; onset times are first frame * 0.6 s
BOUTS = {
    "I": (30, 4),  # t 18.0, before scoring
    "J": (49, 4),  # t 29.4, before scoring; its window reaches into scored time
    "A": (100, 5),  # t 60.0, sustained (3.0 s after 28.2 s forward)
    "B": (130, 2),  # t 78.0, brief (1.2 s)
    "C": (160, 4),  # t 96.0, sustained (2.4 s)
    "D": (166, 4),  # t 99.6, split (1.2 s of forward after C)
    "E": (200, 3),  # t 120.0, sustained at the edge (1.8 s)
    "F": (240, 10),  # t 144.0, sustained, 6 s long
    "G": (280, 3),  # t 168.0, sustained
    "H": (287, 4),  # t 172.2, 2.4 s of forward after G: in "all", not sustained
}


def _recording() -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(N) * DT
    reversal = np.zeros(N, np.int8)
    for first, frames in BOUTS.values():
        reversal[first : first + frames] = 1
    return t, reversal


def _onset(name: str) -> float:
    return float(np.arange(N)[BOUTS[name][0]] * DT)


def _fires() -> np.ndarray:
    return np.array(
        [
            19.0,  # before scoring
            29.9,  # before scoring
            30.2,  # in J's window: J is not scored, so don't care
            40.0,  # forward, no onset near: false
            _onset("A") - 2.4,  # A's window, first edge: hit, lag -2.4
            61.0,  # second fire in A's window: a hit fire, A counted once
            79.0,  # on brief B: don't care
            _onset("C") + 2.4,  # C's last edge at L = 2.4; inside split D's window at L = 1.2
            100.5,  # on split D: don't care
            _onset("E") + 1.2,  # E's last edge at L = 1.2: hit, lag 1.2
            122.5,  # forward just past E's 2.4 s window: false
            148.0,  # late in F's long reversal, outside every window: during reversal
            170.0,  # G's window at 2.4 (lag 2.0) and H's (lag -2.2)
            185.0,  # forward: false
        ]
    )


def test_onset_indices_only_off_to_on() -> None:
    flag = np.array([1, 1, 0, 1, 1, 0, 0, 1], bool)
    assert onset_indices(flag).tolist() == [3, 7]


def test_onsets_get_their_kinds_from_durations_in_seconds() -> None:
    t, reversal = _recording()
    onsets = find_onsets(t, reversal)
    names = list(BOUTS)
    assert onsets.t == pytest.approx([_onset(n) for n in names])
    assert [n for n, b in zip(names, onsets.brief, strict=True) if b] == ["B"]
    assert [n for n, s in zip(names, onsets.split, strict=True) if s] == ["D"]
    sustained = [n for n, s in zip(names, onsets.sustained, strict=True) if s]
    assert sustained == ["I", "J", "A", "C", "E", "F", "G"]
    assert onsets.reversal_s[names.index("F")] == pytest.approx(6.0)
    assert onsets.forward_s[names.index("H")] == pytest.approx(2.4)
    assert not onsets.after_reversal[0] and onsets.after_reversal[1:].all()


def test_kinds_survive_frame_time_jitter() -> None:
    # two frames at 0.63 s stay brief, three at 0.57 s stay sustained, 1.26 s of forward is split
    steps = np.r_[np.full(10, 0.6), 0.63, 0.63, np.full(8, 0.6), 0.57, 0.57, 0.57, 0.63, 0.63, 0.6]
    t = np.r_[0.0, np.cumsum(steps)]
    reversal = np.zeros(len(t), bool)
    reversal[[10, 11]] = True  # brief, 1.26 s
    reversal[[20, 21, 22]] = True  # 1.71 s after 4.8 s of forward: sustained
    reversal[[25, 26]] = True  # after 1.26 s of forward: split
    onsets = find_onsets(t, reversal)
    assert onsets.brief.tolist() == [True, False, True]
    assert onsets.sustained.tolist() == [False, True, False]
    assert onsets.split.tolist() == [False, False, True]


def test_synthetic_recording_counts_exactly() -> None:
    t, reversal = _recording()
    score = score_fires(_fires(), t, reversal, scored_from_s=SCORED_FROM)
    assert score.onsets == {"every": 8, "brief": 1, "split": 1, "all": 6, "sustained": 5}
    assert score.fires == 12 and score.before_scored == 2
    assert score.minutes == pytest.approx(270 * DT / 60)
    assert score.forward_minutes == pytest.approx((270 - 38) * DT / 60)
    expected = {
        # (set, L): caught, lags, hit fires, don't-care fires
        ("all", 1.2): (3, [-2.4, 1.2, -2.2], 4, 4),
        ("sustained", 1.2): (2, [-2.4, 1.2], 3, 5),
        ("all", 2.4): (5, [-2.4, 2.4, 1.2, 2.0, -2.2], 5, 3),
        ("sustained", 2.4): (4, [-2.4, 2.4, 1.2, 2.0], 5, 3),
    }
    for key, (caught, lags, hit, dont_care) in expected.items():
        assert score.caught[key] == caught, key
        assert score.lags_s[key] == pytest.approx(lags), key
        assert score.hit_fires[key] == hit, key
        assert score.dont_care_fires[key] == dont_care, key
    assert score.false == {1.2: 3, 2.4: 3}
    assert score.during_reversal == {1.2: 1, 2.4: 1}
    assert score.hit_rate("all", 1.2) == pytest.approx(3 / 6)
    assert score.hit_rate("sustained", 2.4) == pytest.approx(4 / 5)
    assert score.false_per_min(2.4) == pytest.approx(3 / 2.7)
    assert score.lag_median_s("all", 2.4) == pytest.approx(1.2)


def test_report_keys_carry_the_figures() -> None:
    t, reversal = _recording()
    row = score_fires(_fires(), t, reversal, scored_from_s=SCORED_FROM).as_dict()
    assert row["catch_all_1.2s"] == pytest.approx(0.5)
    assert row["catch_sustained_2.4s"] == pytest.approx(0.8)
    assert row["false_per_min_1.2s"] == pytest.approx(3 / 2.7)
    assert row["lags_sustained_1.2s"] == pytest.approx([-2.4, 1.2])
    assert row["onsets_sustained"] == 5 and row["fires_before_scored"] == 2


def test_one_fire_beside_a_window_edge_is_false() -> None:
    t, reversal = _recording()
    onset = _onset("A")
    for fire, caught in ((onset - 2.4, 1), (onset + 1.2, 1), (onset - 2.41, 0)):
        score = score_fires(np.array([fire]), t, reversal, scored_from_s=SCORED_FROM)
        assert score.caught["all", 1.2] == caught
        assert score.false[1.2] == 1 - caught


def test_without_fires_nothing_is_caught_and_lags_are_nan() -> None:
    t, reversal = _recording()
    score = score_fires(np.array([]), t, reversal)
    assert score.caught["all", 2.4] == 0 and score.false_per_min(1.2) == 0.0
    assert math.isnan(score.lag_median_s("all", 2.4))
    assert score.onsets["every"] == len(BOUTS)  # scored from the first frame by default


def test_bad_input_is_refused_with_the_reason() -> None:
    t, reversal = _recording()
    with pytest.raises(ValueError, match="increase strictly"):
        score_fires(np.array([]), t[::-1], reversal)
    with pytest.raises(ValueError, match="finite"):
        score_fires(np.array([np.nan]), t, reversal)
    with pytest.raises(ValueError, match="one series"):
        find_onsets(t, reversal[:-1])
    with pytest.raises(ValueError, match="onset set"):
        find_onsets(t, reversal).targets("most")


@given(
    st.lists(st.floats(0, 200), max_size=30),
    st.lists(st.booleans(), min_size=2, max_size=300),
    st.floats(0, 100),
)
def test_every_scored_fire_has_exactly_one_outcome(
    fires: list[float], label: list[bool], scored_from: float
) -> None:
    t = np.arange(len(label)) * DT
    score = score_fires(np.array(fires), t, np.array(label), scored_from_s=scored_from)
    assert score.fires + score.before_scored == len(fires)
    for L in score.windows_s:
        for s in SETS:
            outcomes = (
                score.hit_fires[s, L]
                + score.dont_care_fires[s, L]
                + score.false[L]
                + score.during_reversal[L]
            )
            assert outcomes == score.fires
            assert 0 <= score.caught[s, L] <= score.onsets[s] <= score.onsets["every"]
            assert (score.caught[s, L] == 0) == (score.hit_fires[s, L] == 0)
