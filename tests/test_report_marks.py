"""``rtdecode report``'s figure and table as a reader meets them: the policy whole, one mark per
suppression reason, no behaviour drawn before the session's first prediction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from trigger_support import STATES

from rtdecode.policy import TriggerEvent
from rtdecode.stream import FrameTiming, Prediction, SessionFile
from rtdecode.trigger._report import Session, _figure, _rows, session_summary

POLICY = {
    "on": 0.6,
    "off": 0.4,
    "state": "reversal",
    "refractory_s": 20.0,
    "pulse_ms": 50.0,
    "stale_ms": 400.0,
    "abstain": [0.4, 0.6],
    "rule": "onset",
    "false_per_min_budget": 0.5,
}


def _session(path: Path) -> Session:
    """Predictions from t = 0 to 30 s; the tracker started 5 s earlier, mid-reversal."""
    session = SessionFile(path, {"policy": json.dumps(POLICY)})
    session.open(STATES)
    for seq in range(-10, 60):
        t = 0.5 * seq
        reversing = t < -1 or 10 <= t < 14
        session.record_behavior(seq + 10, t, 0.0, float(reversing))
        if seq >= 0:
            p = 0.9 if reversing else 0.1
            prediction = Prediction(seq, t, np.array([1 - p, p], np.float32), 0, 0)
            session.record_frame(FrameTiming(seq, t, -1, 0, 1000, 2000, 3000), prediction)
    for seq, reason in [(20, "refractory"), (22, "refractory"), (24, "uncertain"), (26, "")]:
        session.record_trigger(TriggerEvent(seq, 0.5 * seq, "suppressed", reason, 500.0, 1.0))
    session.close({})
    return Session.read(path)


def test_the_policy_is_shown_whole_and_suppressions_marked_by_reason(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    session = _session(tmp_path / "s.h5")
    summary = session_summary(session)
    shown = " ".join(cell for row in _rows(summary) if row[0] in ("policy", "") for cell in row)
    for key, value in POLICY.items():
        assert f"{key}={json.dumps(value)}" in shown, key  # before: cut after 110 characters
    figure = _figure(session, summary)
    axes = figure.axes[0]
    labels = axes.get_legend_handles_labels()[1]
    assert "suppressed: refractory (2)" in labels and "suppressed: uncertain (1)" in labels
    assert "suppressed: no reason (1)" in labels
    # the reversal before the first prediction is not drawn before t = 0
    spans = [patch.get_x() for patch in axes.patches]
    assert spans and min(spans) >= 0.0


def test_a_dry_run_session_scores_the_fires_the_policy_would_have_made(tmp_path: Path) -> None:
    session = SessionFile(tmp_path / "dry.h5", {"policy": json.dumps(POLICY)})
    session.open(STATES)
    for seq in range(120):
        t = 0.5 * seq
        reversing = 10 <= t < 14 or 40 <= t < 44
        p = 0.9 if reversing else 0.1
        prediction = Prediction(seq, t, np.array([1 - p, p], np.float32), int(reversing), 0)
        session.record_frame(FrameTiming(seq, t, -1, 0, 1000, 2000, 3000), prediction)
        session.record_behavior(seq, t, 0.0, float(reversing))
    for seq in (19, 50, 82):  # what an armed run would have fired (9.5 s, 25 s, 41 s)
        session.record_trigger(TriggerEvent(seq, 0.5 * seq, "suppressed", "dry_run", 50.0, 1.0))
    session.close({})
    summary = session_summary(Session.read(tmp_path / "dry.h5"))
    assert summary["fires"] == 0
    would = summary["would_fire_score"]
    assert would["fires"] == 3 and would["caught_all_1.2s"] == 2 and would["fires_false_1.2s"] == 1
    labels = [row[0] for row in _rows(summary)]
    assert any("would have made" in label and "none sent" in label for label in labels)
