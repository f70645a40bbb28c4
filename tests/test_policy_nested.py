"""Nested leave-one-animal-out: the held-out animal never influences its own setting."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pytest

from rtdecode.policy._nested import Evaluation, choose_setting, nested_lowo

pytestmark = pytest.mark.timeout(60)

ANIMALS = ("a", "b", "c", "d", "e", "f")
SETTINGS = ("careful", "eager")


def _table(bait: str | None) -> dict[tuple[str, str], tuple[float, float]]:
    """(setting, animal) -> (catch, false per minute). ``eager`` is worse on every animal but
    ``bait``, where it is so much better that any mean including ``bait`` prefers it."""
    table = {}
    for a in ANIMALS:
        table["careful", a] = (0.6, 0.3)
        table["eager", a] = (0.5, 0.3)
    if bait is not None:
        table["eager", bait] = (1.0, 0.3)
        table["careful", bait] = (0.0, 0.3)
    return table


class Recorder:
    def __init__(self, table: dict[tuple[str, str], tuple[float, float]]) -> None:
        self.table = table
        self.calls: list[tuple[Hashable, str, tuple[str, ...]]] = []

    def __call__(self, setting: Hashable, scored: str, train: tuple[str, ...]) -> Evaluation:
        self.calls.append((setting, scored, train))
        catch, false = self.table[str(setting), scored]
        return Evaluation(catch, false, {"train": train})


def test_the_held_out_animal_is_never_scored_or_trained_on_while_choosing_for_it() -> None:
    recorder = Recorder(_table("f"))
    folds = nested_lowo(ANIMALS, SETTINGS, recorder, budget=0.5)
    per_fold = len(SETTINGS) * (len(ANIMALS) - 1) + 1
    assert len(recorder.calls) == per_fold * len(ANIMALS)
    for k, held in enumerate(ANIMALS):
        calls = recorder.calls[k * per_fold : (k + 1) * per_fold]
        choosing, outer = calls[:-1], calls[-1]
        assert all(held != scored and held not in train for _, scored, train in choosing)
        assert all(scored not in train for _, scored, train in calls)
        assert outer[1] == held and held not in outer[2]
        assert folds[k].held_out == held


def test_an_animal_whose_data_would_change_the_choice_gets_the_choice_of_the_others() -> None:
    # were f's figures used, the mean would favour "eager" (0.5*4+1.0)/5 = 0.6 vs 0.48: its own
    # fold must still choose "careful", while every other fold (where f is a training animal) is
    # lured to "eager"
    folds = nested_lowo(ANIMALS, SETTINGS, Recorder(_table("f")), budget=0.5)
    chosen = {f.held_out: f.setting for f in folds}
    assert chosen["f"] == "careful"
    assert all(chosen[a] == "eager" for a in "abcde")
    # and f's outer figures are those of the setting it got, not the one best for it
    assert folds[-1].outer.objective == 0.0
    # changing only f's data leaves f's choice as it was
    plain = {
        f.held_out: f.setting for f in nested_lowo(ANIMALS, SETTINGS, Recorder(_table(None)), 0.5)
    }
    assert plain["f"] == chosen["f"]


def test_choice_keeps_to_the_budget_then_maximises_then_prefers_fewer_false() -> None:
    scores = np.array([[0.9, 0.9], [0.7, 0.7], [0.7, 0.7], [np.nan, 0.2]])
    false = np.array([[0.8, 0.8], [0.5, 0.5], [0.2, 0.2], [0.0, 0.0]])
    assert (
        choose_setting(range(4), scores, false, 0.5) == 2
    )  # 0 breaks the budget; 2 ties 1, fewer false
    assert choose_setting(range(4), scores, false, 1.0) == 0
    assert choose_setting(range(4), scores, false, 0.01) == 3  # NaN left out of the mean
    assert choose_setting(range(2), scores[:2], false[:2], 0.1) == 1  # none within: fewest false


def test_too_few_animals_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        nested_lowo(("a", "b"), SETTINGS, Recorder(_table(None)), 0.5)
