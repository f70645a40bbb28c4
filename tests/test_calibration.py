"""Self-calibration of a new animal on the bundled recording, reliability, and `uncertain` output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from stream_support import decode

from rtdecode.calibration import (
    CalibrationConfig,
    CalibrationResult,
    expected_calibration_error,
    fit_calibration,
    recording_head_features,
)
from rtdecode.calibration._earlier import earlier_head
from rtdecode.calibration._live import Calibrator
from rtdecode.cli import cli
from rtdecode.data import Recording, bundled_recording
from rtdecode.engines import load_engine
from rtdecode.errors import ConfigError
from rtdecode.models import load_model_file
from rtdecode.stream import Chunk, Prediction, ReplaySource, Sink, Source
from rtdecode.training import Prepared, auroc, predict_recording, prepare_recording

CALIBRATE_S = 120.0  # at 180 s the held-back part has 7 reversal frames: not sure enough
BUNDLED = Path(__file__).parents[1] / "rtdecode" / "resources" / "2022-08-02-31.npz"


@pytest.fixture(scope="module")
def session() -> dict[str, Any]:
    """The bundled animal decoded by the shipped model without identities (a rig without NeuroPAL)."""
    model = load_model_file()
    prepared = prepare_recording(bundled_recording(), model.preprocess)
    frames, probs = predict_recording(model, model.build(), prepared, use_labels=False)
    shipped = np.full(prepared.n_frames, np.nan)
    shipped[frames] = probs
    x = recording_head_features(prepared.features, prepared.valid, shipped)
    end = int(CALIBRATE_S / prepared.frame_interval)
    return {"prepared": prepared, "shipped": shipped, "x": x, "end": end}


def test_ece_is_zero_when_frequencies_match_and_the_gap_otherwise() -> None:
    # 10 frames at 0.2 with 2 reversals, 10 at 0.9 with 9: perfectly calibrated.
    probs = np.r_[np.full(10, 0.2), np.full(10, 0.9)]
    truth = np.r_[np.ones(2), np.zeros(8), np.ones(9), np.zeros(1)]
    assert expected_calibration_error(truth, probs) == pytest.approx(0.0)
    # Always 0.9 but reversing half the time: off by 0.4 everywhere.
    assert expected_calibration_error(np.r_[np.ones(5), np.zeros(5)], np.full(10, 0.9)) == (
        pytest.approx(0.4)
    )
    # Two bins off by 0.1 and 0.3, weighted by their frames (3 and 1).
    truth = np.array([0, 0, 0, 1])
    probs = np.array([0.1, 0.1, 0.1, 0.7])
    assert expected_calibration_error(truth, probs) == pytest.approx((3 * 0.1 + 0.3) / 4)


def test_calibrating_on_the_first_minutes_switches_to_a_better_head(
    session: dict[str, Any],
) -> None:
    prepared: Prepared = session["prepared"]
    x, shipped, end = session["x"], session["shipped"], session["end"]
    assert prepared.reversal is not None
    result = fit_calibration(x[:end], prepared.reversal[:end], shipped[:end], CalibrationConfig())
    assert result.chosen == "calibrated" and result.head is not None
    assert result.head_score > result.shipped_score
    # And after the calibration period, on frames it never saw, the head decodes better.
    truth = prepared.reversal[end:]
    head_auroc = auroc(truth, result.head.predict_many(x[end:]))
    assert head_auroc > auroc(truth, shipped[end:]) + 0.1
    assert head_auroc > 0.8


def test_uninformative_behaviour_keeps_the_shipped_model(session: dict[str, Any]) -> None:
    x, shipped, end = session["x"], session["shipped"], session["end"]
    never = np.zeros(end, bool)  # a tracker that never reports a reversal
    result = fit_calibration(x[:end], never, shipped[:end], CalibrationConfig())
    assert result.chosen == "shipped" and result.head is None
    assert "reversal" in result.reason


def test_the_live_calibrator_fits_off_thread_and_takes_over(session: dict[str, Any]) -> None:
    prepared: Prepared = session["prepared"]
    shipped = session["shipped"]
    assert prepared.reversal is not None
    n = prepared.features.shape[1]
    # 180 s from the shipped model's first output (the held-back part of 120 s has no reversal)
    calibrator = Calibrator(n, prepared.frame_interval, CalibrationConfig(seconds=180.0))
    heads = []
    for k in np.flatnonzero(np.isfinite(shipped)):
        features = calibrator.features(prepared.features[k], prepared.valid[k], shipped[k])
        calibrator.add(
            features, shipped[k], bool(prepared.reversal[k]), k * prepared.frame_interval
        )
        heads.append(calibrator.predict(features, shipped[k])[1])
        if not calibrator.collecting:
            break
    result = calibrator.wait(timeout=60)
    assert result is not None and result.chosen == "calibrated"
    assert set(heads) == {0}  # the shipped model decoded the whole calibration period
    k = prepared.n_frames - 1
    features = calibrator.features(prepared.features[k], prepared.valid[k], shipped[k])
    assert calibrator.predict(features, shipped[k])[1] == 1


class _Collect(Sink):
    """Keeps a copy of every prediction's reversal probability and decided output."""

    uri = "memory"

    def __init__(self) -> None:
        self.rows: list[tuple[float, bool]] = []

    def open(self, states: tuple[str, ...]) -> None:
        self.reversal = states.index("reversal")

    def publish(self, prediction: Prediction) -> None:
        self.rows.append((float(prediction.probs[self.reversal]), prediction.uncertain))


def test_predictions_inside_the_abstain_band_or_on_bad_input_are_uncertain() -> None:
    whole = bundled_recording()
    frames = 110
    traces = whole.traces[:frames].copy()
    traces[80:] = np.nan  # the microscope loses every neuron from frame 80 on
    recording = Recording("head", traces, whole.timestamps[:frames], whole.labels)
    sink = _Collect()
    band = (0.3, 0.7)
    engine = load_engine()
    summary = decode(
        ReplaySource(recording, speed=float("inf")), engine, [sink], max_batch=1, abstain=band
    )
    probs = np.array([p for p, _ in sink.rows])
    uncertain = np.array([u for _, u in sink.rows])
    first = engine.window - 1
    decoded = np.arange(first, frames)
    # Uncertain from the first frame with every value missing (issue 21: the window's share
    # alone let frames 80-95 through as confident, a quarter of the 64-frame window).
    healthy = decoded < 80
    expected = (probs > band[0]) & (probs < band[1])
    np.testing.assert_array_equal(uncertain[healthy], expected[healthy])
    assert uncertain[decoded >= 80].all()
    assert summary["uncertain"] == int(uncertain.sum())


def test_an_earlier_recording_of_the_animal_gives_a_head_from_the_first_frame(
    session: dict[str, Any], tmp_path: Path
) -> None:
    prepared: Prepared = session["prepared"]
    model = load_model_file()
    head = earlier_head(BUNDLED, model, CalibrationConfig())
    n = prepared.features.shape[1]
    calibrator = Calibrator(n, prepared.frame_interval, start=head)
    k = int(np.flatnonzero(np.isfinite(session["shipped"]))[0])
    features = calibrator.features(prepared.features[k], prepared.valid[k], session["shipped"][k])
    assert calibrator.predict(features, session["shipped"][k])[1] == 1
    # A session file that kept its head gives the same head back.
    path = tmp_path / "session.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["format"] = "rtdecode-session"
        outcome = CalibrationResult(head, "calibrated", 0.9, 0.6, 300, 75, "test")
        handle.attrs["calibration"] = json.dumps(outcome.as_dict(weights=True))
    again = earlier_head(path, model, CalibrationConfig())
    np.testing.assert_array_equal(again.weights, head.weights)
    assert again.bias == head.bias
    with pytest.raises(ValueError, match="neurons"):
        Calibrator(n + 1, prepared.frame_interval, start=head)


def test_eval_calibrate_reports_every_length_and_decoder(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(BUNDLED, folder)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "--data",
            str(folder),
            "--calibrate",
            "120,180",
            "--no-labels",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    rows = {(r["seconds"], r["method"]): r for r in report["table"]}
    methods = ("calibrated", "balanced", "shipped", "baseline", "fused", "fused_calibrated")
    assert set(rows) == {(s, m) for s in (120.0, 180.0) for m in methods}
    for row in rows.values():
        for key in ("balanced_accuracy", "auroc", "ece", "coverage", "catch_all_2.4s"):
            assert row[f"mean_{key}"] is not None, key
    # The animal's own head decodes its later frames far better than the shipped model alone.
    assert rows[120.0, "calibrated"]["heads_chosen"] == 1  # at 180 s: not sure enough
    assert rows[120.0, "calibrated"]["mean_auroc"] > rows[120.0, "shipped"]["mean_auroc"] + 0.1
    assert "heads 1/1" in result.output


def test_eval_calibrate_names_a_bad_band() -> None:
    result = CliRunner().invoke(
        cli, ["eval", "--data", ".", "--calibrate", "180", "--abstain", "0.7,0.3"]
    )
    assert result.exit_code != 0 and "--abstain" in result.output


def test_the_live_calibration_parts_do_not_import_torch() -> None:
    # A decoder running ONNX Runtime must not pay for importing torch when it calibrates
    # (an import in the fitting thread would stall the decoding thread).
    code = (
        "import sys\n"
        "from rtdecode.calibration import Calibrator, fit_calibration\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_prior_setting_moves_the_head_to_a_known_later_reversal_rate() -> None:
    # Synthetic animal: one informative neuron; it reverses 10 % of the time while calibrating
    # and 35 % afterwards (the frames of each state look the same throughout: a pure prior shift).
    rng = np.random.default_rng(0)

    def frames(n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
        y = rng.random(n) < rate
        z = np.where(y, 1.0, -1.0) + rng.normal(0.0, 1.2, n)
        x = np.column_stack([z, rng.normal(size=(n, 3)), np.zeros(n)])  # last: shipped logit 0
        return x, y

    x_cal, y_cal = frames(1500, 0.10)
    x_later, y_later = frames(6000, 0.35)
    shipped = np.full(len(y_cal), 0.5)  # an uninformative shipped model: the head is chosen
    kept = fit_calibration(x_cal, y_cal, shipped, CalibrationConfig(prior=None)).head
    moved = fit_calibration(x_cal, y_cal, shipped, CalibrationConfig(prior=0.35)).head
    assert kept is not None and moved is not None
    # Without the correction the head keeps the calibration period's rate; with it, the mean
    # probability it gives afterwards is the new rate, and its probabilities are reliable there.
    assert kept.predict_many(x_later).mean() < y_later.mean() - 0.1
    assert moved.predict_many(x_later).mean() == pytest.approx(y_later.mean(), abs=0.04)
    assert expected_calibration_error(y_later, moved.predict_many(x_later)) < 0.05
    assert expected_calibration_error(y_later, kept.predict_many(x_later)) > 0.1
    # The ranking is untouched (a shift of the intercept only).
    assert np.allclose(moved.weights, kept.weights)


def test_calibration_settings_out_of_range_are_named() -> None:
    with pytest.raises(ConfigError, match="seconds"):
        CalibrationConfig(seconds=1e9)
    with pytest.raises(ConfigError, match="holdout"):
        CalibrationConfig(holdout=1.0)
    with pytest.raises(ConfigError, match="prior"):
        CalibrationConfig(prior=1.0)


class _Frames(Source):
    """Frames from arrays, one chunk each: a stream whose neuron count can change."""

    uri = "frames"

    def __init__(self, frames: list[np.ndarray]) -> None:
        super().__init__()
        self._frames = frames
        self._next = 0

    def start(self) -> None:
        self._next = 0

    def read(self, timeout: float) -> Chunk | None:
        if self._next >= len(self._frames):
            return None
        i = self._next
        self._next += 1
        data = self._frames[i][None, :].astype(np.float32)
        return Chunk(data, i, np.array([0.6 * i]), time.perf_counter_ns())

    def stop(self) -> None:
        self._next = len(self._frames)

    @property
    def finished(self) -> bool:
        return self._next >= len(self._frames)


def test_predictions_after_a_layout_reset_stay_uncertain_until_it_settles() -> None:
    traces = bundled_recording().traces
    engine = load_engine()
    w = engine.window
    before, after = w + 10, 2 * w + 20
    frames = [traces[i] for i in range(before)] + [traces[i, :100] for i in range(after)]
    sink = _Collect()
    summary = decode(_Frames(frames), engine, [sink], max_batch=1)
    assert summary["resets"] == 1
    uncertain = np.array([u for _, u in sink.rows])
    first_layout = before - w + 1  # predictions before the reset: no band, healthy input
    assert not uncertain[:first_layout].any()
    # After the reset the window refills (w - 1 frames, no prediction), then predictions are
    # uncertain until the new layout has seen two windows of frames.
    second = uncertain[first_layout:]
    assert second[:w].all() and not second[w:].any()
