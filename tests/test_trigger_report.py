"""``rtdecode report`` on a session file holding predictions, triggers and tracked behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from trigger_support import STATES

from rtdecode.cli import cli
from rtdecode.policy import TriggerEvent
from rtdecode.stream import FrameTiming, Prediction, SessionFile
from rtdecode.trigger._report import Session, session_summary


def write_session(path: Path, summary: dict | None = None) -> None:
    """60 s at 2 frames/s; reversals at 10-14 s and 40-44 s; fires at 9.5 s (caught), 25 s
    (false) and 41 s (caught); the tracker lost the animal at 30-32 s (NaN)."""
    session = SessionFile(path, {"policy": '{"on": 0.6, "off": 0.4, "state": "reversal"}'})
    session.open(STATES)
    for seq in range(120):
        t = 0.5 * seq
        reversing = 10 <= t < 14 or 40 <= t < 44
        p = 0.9 if reversing else 0.1
        prediction = Prediction(seq, t, np.array([1 - p, p], np.float32), int(reversing), 0)
        session.publish(prediction)
        session.record_frame(FrameTiming(seq, t, -1, 0, 1000, 2000, 3000), prediction)
        session.record_behavior(
            seq, t, -0.1 if reversing else 0.1, np.nan if 30 <= t < 32 else float(reversing)
        )
    for seq, kind, reason in [
        (19, "fire", ""),
        (30, "suppressed", "refractory"),
        (50, "fire", ""),
        (82, "fire", ""),
    ]:
        session.record_trigger(TriggerEvent(seq, 0.5 * seq, kind, reason, 500.0, 120.0))
    session.close(summary or {})


def test_summary_scores_the_fires_against_the_recorded_behaviour(tmp_path: Path) -> None:
    write_session(tmp_path / "s.h5")
    summary = session_summary(Session.read(tmp_path / "s.h5"))
    assert (summary["fires"], summary["suppressed"]) == (3, {"refractory": 1})
    score = summary["fire_score"]
    # NaN is no onset; both reversals are sustained (4 s after >= 10 s of forward)
    assert (score["onsets_all"], score["onsets_sustained"]) == (2, 2)
    assert (score["caught_all_1.2s"], score["fires_false_1.2s"]) == (2, 1)
    assert score["lags_all_2.4s"] == [-0.5, 1.0]
    assert summary["trigger_latency_us"]["p50"] == 120.0


def test_behaviour_is_scored_after_the_calibration_period(tmp_path: Path) -> None:
    write_session(tmp_path / "s.h5", {"calibration": {"seconds": 20.0, "collected_s": 20.0}})
    score = session_summary(Session.read(tmp_path / "s.h5"))["fire_score"]
    assert score["scored_from_s"] == 20.0 and score["fires_before_scored"] == 1  # 9.5 s
    assert (score["onsets_all"], score["caught_all_1.2s"], score["fires_false_1.2s"]) == (1, 1, 1)
    # a calibration that never received behaviour: the shipped model decided from the first frame
    write_session(tmp_path / "n.h5", {"calibration": {"seconds": 20.0, "collected_s": 0.0}})
    assert session_summary(Session.read(tmp_path / "n.h5"))["fire_score"]["scored_from_s"] == 0.0


def test_report_png_and_html(tmp_path: Path) -> None:
    write_session(tmp_path / "s.h5")
    for name in ("r.png", "r.html"):
        result = CliRunner().invoke(
            cli, ["report", str(tmp_path / "s.h5"), "--out", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "r.html").read_text()
    assert "onsets caught 2/2" in page and "refractory 1" in page
    bad = CliRunner().invoke(
        cli, ["report", str(tmp_path / "s.h5"), "--out", str(tmp_path / "r.pdf")]
    )
    assert bad.exit_code != 0 and ".html or .png" in bad.output
