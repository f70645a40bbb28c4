"""Decisions files (``rtdecode eval --save-predictions``) and the velocity-only trigger."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rtdecode.cli import cli
from rtdecode.data import Recording, bundled_recording, write_npz
from rtdecode.decisions import load_decisions, rescore, save_decisions
from rtdecode.errors import DataFormatError
from rtdecode.events import score_fires
from rtdecode.training._dataset import Prepared
from rtdecode.training._velocity import choose_threshold, velocity_baseline, velocity_fires


def _same(rescored: dict, reported: dict) -> None:
    """Every figure of a rescored file equals the one ``rtdecode eval`` reported."""
    for key, value in rescored.items():
        if isinstance(value, float) and math.isnan(value):
            assert reported[key] is None or math.isnan(reported[key]), key
        else:
            assert reported[key] == pytest.approx(value), key


def test_a_decisions_file_round_trips_and_rescores(tmp_path: Path) -> None:
    t = np.arange(200) * 0.6
    reversal = (t % 30) < 3  # a 3 s reversal every 30 s
    p = np.where(t < 10, np.nan, reversal * 0.9)
    fires = np.array([29.4, 61.0, 75.0])
    path = save_decisions(
        tmp_path / "a" / "x.npz", t, p, p > 0.5, fires, reversal, 10.0, threshold=0.5
    )
    back = load_decisions(path)
    assert np.array_equal(back.t, t) and np.array_equal(back.reversal, reversal)
    assert np.allclose(back.p, p, equal_nan=True) and back.uncertain.dtype == bool
    assert np.array_equal(back.fire_t, fires) and back.scored_from_s == 10.0
    assert float(back.extra["threshold"]) == 0.5
    expected = score_fires(fires, t, reversal, 10.0).as_dict()
    assert rescore(path).as_dict() == expected
    assert expected["caught_all_2.4s"] == 2 and expected["fires_false_2.4s"] == 1


def test_a_file_that_is_not_a_decisions_file_is_named(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", t=np.arange(3.0))
    with pytest.raises(DataFormatError, match=r"other\.npz lacks p, uncertain"):
        rescore(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(DataFormatError, match="cannot read decisions file"):
        rescore(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="p has 2 values for 3 frame times"):
        save_decisions(tmp_path / "x.npz", np.arange(3.0), [0, 1], [0, 0, 0], [], [0, 0, 1], 0)


def test_eval_calibrate_saves_what_run_decides_and_rescoring_gives_its_figures(
    tmp_path: Path,
) -> None:
    rec = bundled_recording()
    folder = tmp_path / "data"
    write_npz(rec, folder / f"{rec.id}.npz")
    out, saved = tmp_path / "r.json", tmp_path / "saved"
    result = CliRunner().invoke(
        cli,
        ["eval", "--data", str(folder), "--calibrate", "180", "--no-labels",
         "--save-predictions", str(saved), "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    # run's default after calibration: the fused decision's per-animal state head
    entry = next(e for e in report["recordings"] if e["method"] == "fused_calibrated")
    default = load_decisions(saved / f"{rec.id}.npz")
    _same(default.score().as_dict(), entry)
    _same(rescore(saved / f"{rec.id}.fused_calibrated-180s-no-ids.npz").as_dict(), entry)
    # the policy saw the frames after 180 s of calibration, and abstained inside 0.4-0.6
    seen = ~np.isnan(default.p)
    assert default.scored_from_s == pytest.approx(default.t[seen][0])
    assert default.scored_from_s == pytest.approx(180.0, abs=1.0)
    inside = (default.p > 0.4) & (default.p < 0.6)
    assert np.array_equal(default.uncertain, inside) and inside.any()
    assert len(default.fire_t) == entry["fires"] > 0
    assert np.array_equal(default.reversal, rec.reversal)
    for method in ("shipped", "calibrated", "balanced", "baseline", "fused"):
        assert (saved / f"{rec.id}.{method}-180s-no-ids.npz").exists()


def _with_velocity_halves(folder: Path) -> Path:
    rec = bundled_recording()
    assert rec.velocity is not None
    for i, part in enumerate((slice(0, 400), slice(400, 800))):
        write_npz(
            Recording(
                id=f"half{i}",
                traces=rec.traces[part],
                timestamps=rec.timestamps[part],
                labels=rec.labels,
                reversal=rec.reversal[part],
                velocity=rec.velocity[part],
            ),
            folder / f"half{i}.npz",
        )
    return folder


@pytest.mark.slow
def test_eval_reports_the_velocity_baseline_and_saves_every_method(tmp_path: Path) -> None:
    folder = _with_velocity_halves(tmp_path / "data")
    out, saved = tmp_path / "r.json", tmp_path / "saved"
    result = CliRunner().invoke(
        cli, ["eval", "--data", str(folder), "--save-predictions", str(saved), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "velocity-only trigger" in result.output
    report = json.loads(out.read_text())
    velocity = report["velocity_baseline"]
    for entry, base in zip(report["recordings"], velocity["recordings"], strict=True):
        _same(rescore(saved / f"{entry['id']}.npz").as_dict(), entry)
        _same(rescore(saved / f"{entry['id']}.velocity.npz").as_dict(), base)
        assert base["scored_from_s"] == entry["scored_from_s"]  # the same frames
    assert velocity["mean_catch_sustained_2.4s"] is not None and "lags" in velocity


def test_velocity_fires_on_downward_crossings_with_the_refractory() -> None:
    t = np.arange(12) * 1.0
    v = np.array([0.02, -0.01, -0.02, 0.01, -0.01, 0.02, 0.02, -0.01, np.nan, -0.01, 0.0, -0.01])
    assert velocity_fires(t, v, -0.005, 0.0).tolist() == [1.0, 4.0, 7.0, 11.0]
    assert velocity_fires(t, v, -0.005, 5.0).tolist() == [1.0, 7.0]


def _trace(rec_id: str, dip: float) -> Prepared:
    """A synthetic animal: forward at 0.02 mm/s with dips to ``dip`` every 20 s, and a 3 s
    reversal at -0.02 mm/s every 45 s."""
    t = np.arange(1000) * 0.6
    reversal = (t % 45.0) >= 42.0
    velocity = np.where(reversal, -0.02, 0.02)
    velocity[((t % 20.0) < 0.6) & ~reversal] = dip
    n = len(t)
    return Prepared(
        id=rec_id,
        features=np.zeros((n, 1, 1), np.float32),
        valid=np.ones((n, 1), bool),
        reversal=reversal,
        labels=(None,),
        frame_interval=0.6,
        role=np.zeros(1, np.float32),
        t=t,
        velocity=velocity,
    )


def test_the_velocity_threshold_is_chosen_on_the_other_animals() -> None:
    shallow = [_trace("a", -0.004), _trace("b", -0.004)]
    threshold = choose_threshold(shallow, refractory_s=5.0)
    assert -0.02 < threshold <= -0.004  # no fire on the forward dips (it fires strictly below)
    deep = _trace("c", -0.008)  # this animal's forward dips go deeper than the others'
    entries = velocity_baseline([*shallow, deep], {"a": 60.0, "b": 60.0, "c": 60.0})
    by_id = {e["id"]: e for e in entries}
    for rec_id in ("a", "b"):
        assert by_id[rec_id]["catch_sustained_2.4s"] == 1.0
        assert by_id[rec_id]["fires_false_2.4s"] == 0
        assert by_id[rec_id]["lag_median_all_2.4s"] == 0.0  # fires on the onset frame
    # chosen on a and b, the threshold does not know c's deeper dips: they fire falsely
    assert by_id["c"]["threshold"] > -0.008 and by_id["c"]["fires_false_2.4s"] > 0
