"""Self-calibration that cannot make things worse unnoticed, on the bundled real recording
decoded by the shipped model through the live pipeline.

``rtdecode demo --calibrate 60`` once switched to a head whose held-back AUROC (0.935 on 25
frames, 2 of them reversals) beat the shipped model's (0.913), and then decoded at balanced
accuracy 0.5. The switch now needs frames of each state and an interval that clears the
shipped model; and after a switch both heads keep being compared on the behaviour that keeps
arriving.
"""

from __future__ import annotations

import numpy as np
import pytest
from stream_support import live_session

from rtdecode.calibration import CalibrationConfig
from rtdecode.calibration._evidence import auroc_gain_interval
from rtdecode.data import bundled_recording
from rtdecode.engines import load_engine
from rtdecode.live import CalibrationSection
from rtdecode.stream import Prediction, ReplaySource, Sink

pytestmark = pytest.mark.timeout(600)


class _Published(Sink):
    """What a user receives: each prediction's frame, reversal probability and head."""

    uri = "memory"

    def __init__(self) -> None:
        self.rows: list[tuple[int, float, int]] = []

    def open(self, states: tuple[str, ...]) -> None:
        pass

    def publish(self, prediction: Prediction) -> None:
        self.rows.append((prediction.seq, float(prediction.probs[1]), prediction.head))


def _session(
    config: CalibrationConfig, fused: str | None = "shipped"
) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """Replay the whole bundled recording with its behaviour through a calibrating session
    (``fused``: the fused decision's cross-animal part, ``None``: issue 10's head alone)."""
    recording = bundled_recording()
    assert recording.reversal is not None
    engine = load_engine(None, "torch")
    sink = _Published()
    live = live_session(
        ReplaySource(recording, speed=20.0),
        engine,
        [sink],
        max_batch=1,
        max_frames=recording.n_frames,
        max_age_s=1.0,
        calibration=CalibrationSection(fit=config),
        frame_interval_s=recording.frame_interval,
        fused=fused,
    )
    track = live.streams[0].behavior
    assert track is not None
    for i in range(recording.n_frames):
        track.add(i, float(recording.timestamps[i]), float("nan"), float(recording.reversal[i]))
    summary = live.run()
    rows = np.array(sink.rows)
    seq = rows[:, 0].astype(int)
    return summary, recording.reversal[seq].astype(bool), rows[:, 1], rows[:, 2].astype(int)


def _balanced_accuracy(truth: np.ndarray, prob: np.ndarray) -> float:
    decided = prob >= 0.5
    return 0.5 * (float(decided[truth].mean()) + float((~decided[~truth]).mean()))


def test_sixty_seconds_are_too_little_evidence_to_switch() -> None:
    summary, truth, prob, head = _session(CalibrationConfig(seconds=60.0))
    calibration = summary["calibration"]
    assert calibration["chosen"] == "shipped" and not head.any()
    reason = calibration["reason"]  # too few frames, or an interval that does not clear
    assert ("too little evidence" in reason and "calibrate longer" in reason) or (
        "not surely" in reason and "interval" in reason
    ), reason
    assert _balanced_accuracy(truth, prob) > 0.85  # the shipped model's, kept


@pytest.mark.parametrize("fused", [None, "shipped"], ids=["calibrated-head", "fused-decision"])
def test_a_head_that_decodes_worse_after_the_switch_is_switched_back(fused: str | None) -> None:
    # Weak evidence let through on purpose (one frame of each state, a 2 % interval that need
    # only clear -1): the 60-second head of the bug report (issue 10's head, or the fused
    # decision's part) takes over, and must not stay.
    weak = CalibrationConfig(seconds=60.0, min_state_frames=1, level=0.02, margin=-1.0)
    summary, truth, prob, head = _session(weak, fused)
    calibration = summary["calibration"]
    took = 1 if fused is None else 2
    switched = np.flatnonzero(head == took)
    assert len(switched) > 0, "the weak-evidence head took over"
    assert np.all(head[switched[0] : switched[-1] + 1] == took)  # until it was switched back
    # (the fused decision hands back to issue 10's head, as weak, which is switched back too)
    back = np.flatnonzero(head)[-1] + 1
    assert not head[back:].any() and len(head) - back > 300, "the shipped model decides again"
    assert _balanced_accuracy(truth[back:], prob[back:]) > 0.85
    if fused is not None:
        assert calibration["decides"] == "shipped"
        assert calibration["fused_reason"].startswith("switched back")
        assert "balanced accuracy" in calibration["fused_reason"]
        return
    assert calibration["chosen"] == "shipped"
    assert "switched back to the shipped model" in calibration["reason"]
    assert "balanced accuracy" in calibration["switched_back"]
    assert "weights" not in calibration  # --calibration-from cannot start from it


def test_the_interval_of_the_gain_straddles_zero_for_a_coin_flip() -> None:
    rng = np.random.default_rng(1)
    truth = np.repeat(rng.random(60) < 0.3, 5)  # 300 frames in runs of 5
    shipped = np.clip(truth * 0.6 + rng.normal(0.2, 0.2, 300), 0, 1)
    low, high = auroc_gain_interval(truth, shipped.copy(), shipped)
    assert low == pytest.approx(0.0) and high == pytest.approx(0.0)  # the same model
    noisy = np.clip(shipped + rng.normal(0, 0.3, 300), 0, 1)  # a worse head
    low, high = auroc_gain_interval(truth, noisy, shipped)
    assert low < 0, "a worse head is never surely better"


def test_a_switch_back_also_gives_the_armed_rule_the_shipped_models_threshold() -> None:
    from rtdecode.calibration import Calibrator
    from rtdecode.policy import PolicyConfig

    rng = np.random.default_rng(3)
    n, interval = 4, 0.5
    budget = PolicyConfig(false_per_min=1.0)
    weak = CalibrationConfig(seconds=120.0, min_state_frames=1, level=0.02)
    calibrator = Calibrator(n, interval, weak, budget=budget)
    frame, valid = np.zeros((n, 2)), np.ones(n, bool)
    k = 0
    while calibrator.collecting:  # the neurons tell reversals, the shipped model does not
        reversal = (k // 20) % 3 == 0
        frame[:, 0] = reversal + rng.normal(0, 0.3, n)
        shipped = float(rng.uniform(0.3, 0.7))
        calibrator.add(calibrator.features(frame, valid, shipped), shipped, reversal, k * interval)
        k += 1
    assert calibrator.wait(60) is not None and calibrator.head is not None
    chosen = calibrator.threshold
    assert chosen is not None
    for j in range(400):  # now the neurons mislead and the shipped model is right
        reversal = (j // 20) % 3 == 0
        frame[:, 0] = (not reversal) + rng.normal(0, 0.3, n)
        shipped = 0.9 if reversal else 0.1
        calibrator.follow(calibrator.features(frame, valid, shipped), shipped, reversal)
    assert calibrator.head is None and calibrator.switched_back
    assert calibrator.threshold is not None and calibrator.threshold is not chosen
    # the threshold now comes from the shipped model's scores of the period (p in 0.3..0.7),
    # not from the head's that lost
    back = calibrator.threshold.threshold
    assert back != chosen.threshold and abs(back) <= np.log(0.7 / 0.3) + 1e-9
