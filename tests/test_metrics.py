"""Decoding metrics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rtdecode.training import auroc, balanced_accuracy, f1_score


def test_auroc_hand_computed() -> None:
    # positives 0.35, 0.8 against negatives 0.1, 0.4: 3 of 4 pairs ranked right
    assert auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert auroc(np.array([0, 1]), np.array([0.2, 0.9])) == 1.0
    assert auroc(np.array([1, 0]), np.array([0.2, 0.9])) == 0.0


def test_auroc_counts_ties_as_half() -> None:
    assert auroc(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    # positive 0.5 beats negative 0.2 and ties negative 0.5: (1 + 0.5) / 2
    assert auroc(np.array([0, 0, 1]), np.array([0.2, 0.5, 0.5])) == pytest.approx(0.75)


def test_auroc_matches_the_pairwise_definition_on_random_data() -> None:
    rng = np.random.default_rng(3)
    truth = rng.random(300) < 0.3
    score = np.round(rng.random(300), 2)  # many ties
    pos, neg = score[truth], score[~truth]
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert auroc(truth, score) == pytest.approx(pairs)


def test_auroc_of_one_class_is_nan() -> None:
    assert math.isnan(auroc(np.zeros(5, bool), np.arange(5.0)))


def test_balanced_accuracy_hand_computed() -> None:
    truth = np.array([0, 0, 0, 1], bool)
    assert balanced_accuracy(truth, np.array([0, 1, 0, 1], bool)) == pytest.approx((2 / 3 + 1) / 2)
    assert balanced_accuracy(truth, np.zeros(4, bool)) == pytest.approx(0.5)


def test_f1_hand_computed() -> None:
    truth = np.array([1, 1, 0, 0], bool)
    assert f1_score(truth, np.array([1, 0, 1, 0], bool)) == pytest.approx(0.5)
    assert f1_score(truth, truth) == 1.0
    assert f1_score(np.zeros(3, bool), np.zeros(3, bool)) == 0.0
