"""Event-level scoring: onsets caught, false events per minute, lag."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtdecode.events import onset_indices, score_events


def test_onset_indices_only_off_to_on() -> None:
    flag = np.array([1, 1, 0, 1, 1, 0, 0, 1], bool)
    assert onset_indices(flag).tolist() == [3, 7]


def test_an_event_inside_the_window_catches_the_onset_and_gives_its_lag() -> None:
    score = score_events(np.array([9.0, 30.5, 50.0]), np.array([10.0, 30.0]), duration_s=120.0)
    assert score.caught == 2 and score.onset_hit_rate == 1.0
    assert score.false == 1 and score.false_per_min == pytest.approx(0.5)
    assert score.lag_s == pytest.approx((-1.0 + 0.5) / 2)


def test_window_edges_are_inclusive_and_outside_is_false() -> None:
    onset = np.array([100.0])
    assert score_events(np.array([97.6]), onset, 60.0).caught == 1
    assert score_events(np.array([101.2]), onset, 60.0).caught == 1
    late = score_events(np.array([101.3]), onset, 60.0)
    assert late.caught == 0 and late.false == 1 and math.isnan(late.lag_s)


def test_no_onsets_gives_nan_hit_rate_but_counts_false_events() -> None:
    score = score_events(np.array([1.0, 2.0]), np.array([]), 60.0)
    assert math.isnan(score.onset_hit_rate) and score.false_per_min == 2.0


def test_non_positive_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="duration_s"):
        score_events(np.array([]), np.array([]), 0.0)


@given(
    st.lists(st.floats(0, 600), max_size=40),
    st.lists(st.floats(0, 600), max_size=40),
)
def test_counts_are_consistent(events: list[float], onsets: list[float]) -> None:
    score = score_events(np.array(events), np.array(onsets), 600.0)
    assert 0 <= score.caught <= score.onsets == len(onsets)
    assert 0 <= score.false <= score.events == len(events)
    matched = score.events - score.false
    assert (score.caught == 0) == (matched == 0)
