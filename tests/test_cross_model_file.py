"""The fused decision's cross-animal part on disk: the shipped file loads, round-trips, and a
wrong file is refused with an error naming it and the fix."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from rtdecode.calibration import AnimalDecoder, load_cross_model, save_cross_model
from rtdecode.data import bundled_recording
from rtdecode.errors import ConfigError
from rtdecode.preprocess import preprocess_traces


def _shipped() -> tuple:
    with resources.as_file(resources.files("rtdecode") / "resources" / "cross-model.npz") as p:
        return load_cross_model(p)


def test_the_shipped_model_round_trips_and_scores_the_same(tmp_path: Path) -> None:
    model, about = _shipped()
    assert about["animals"] and model.names == () and model.fusion_lags == about["fusion_lags"]
    save_cross_model(tmp_path / "again.npz", model, about)
    again, about_again = load_cross_model(tmp_path / "again.npz")
    assert about_again == about
    for name in ("roles", "names", "head", "onset_c", "min_onsets", "fusion_lags"):
        assert getattr(again, name) == getattr(model, name)
    for name in ("state", "onset", "fusion"):
        np.testing.assert_array_equal(getattr(again, name).weights, getattr(model, name).weights)
        assert getattr(again, name).bias == getattr(model, name).bias
    rec = bundled_recording()
    assert rec.reversal is not None
    features, valid = preprocess_traces(rec.traces, rec.timestamps)
    rows = slice(17, 300)
    scores = []
    for m in (model, again):
        decoder = AnimalDecoder(m)
        decoder.calibrate(features[rows], valid[rows], rec.reversal[rows], 0.6)
        scores.append(decoder.recording(features, valid)[:, -1])
    np.testing.assert_array_equal(scores[0], scores[1])
    assert np.all((scores[0] > 0) & (scores[0] < 1))


def test_a_file_that_is_no_cross_model_is_refused_by_name(tmp_path: Path) -> None:
    wrong = tmp_path / "weights.npz"
    np.savez(wrong, w=np.zeros(3))
    with pytest.raises(ConfigError, match=r"weights\.npz is not a fused decision.*fit_cross_model"):
        load_cross_model(wrong)
    with pytest.raises(ConfigError, match=r"missing\.npz"):
        load_cross_model(tmp_path / "missing.npz")
