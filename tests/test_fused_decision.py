"""Identity-free roles, onset targets and the fused decision: live frame-by-frame equals batch."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rtdecode.calibration import (
    COMPONENTS,
    AnimalDecoder,
    CalibrationConfig,
    CrossModel,
    Head,
    RoleConfig,
    RolePooler,
    calibration_roles,
    neuron_roles,
    onset_target,
)
from rtdecode.calibration._decision import cross_features, identity_columns
from rtdecode.calibration._onset import fit_linear
from rtdecode.data import Recording
from rtdecode.errors import ConfigError
from rtdecode.preprocess import preprocess_traces

pytestmark = pytest.mark.timeout(600)

COMMAND = {"AVA", "AVE", "AIB", "RIM", "AVD"}  # reversal command interneurons (classes)


def test_onset_target_marks_first_frames_after_forward_motion() -> None:
    # onset at 4 after 4 forward frames: clean; onset at 10 after 1 forward frame: split, not used
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 1], bool)
    target, care = onset_target(y, frames=3, forward=3)
    assert np.flatnonzero(target).tolist() == [4, 5, 6, 16]
    # later reversal frames and the split reversal are neither positive nor negative
    assert np.flatnonzero(~care).tolist() == [7, 8, 10, 11]


def test_role_pooler_step_equals_recording() -> None:
    rng = np.random.default_rng(3)
    z, dz = rng.normal(size=(40, 12)), rng.normal(size=(40, 12))
    pooler = RolePooler(rng.normal(size=12), 0.5, RoleConfig(k=3, diffs_s=(0.5, 2.0)))
    batch = pooler.recording(z, dz)
    out = np.zeros(pooler.n_features)
    steps = np.array([pooler.step(z[i], dz[i], out).copy() for i in range(len(z))])
    np.testing.assert_allclose(steps, batch, atol=1e-12)
    assert pooler.lags == (1, 4)
    np.testing.assert_allclose(batch[0, 6:], 0.0)  # no difference before the second frame


def _calibration(recording: Recording) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    features, valid = preprocess_traces(recording.traces, recording.timestamps)
    t = recording.timestamps - recording.timestamps[0]
    assert recording.reversal is not None
    return features, valid, t, recording.reversal


def test_roles_find_the_command_interneurons_without_labels(flavell_dir) -> None:
    """In every animal the 10 neurons most correlated with reversal over the first 180 s hold
    at least 3 of AVA/AVE/AIB/RIM/AVD (the labels are used only to check)."""
    from rtdecode.data import discover_recordings, load_recording

    for path in discover_recordings(flavell_dir):
        recording = load_recording(path)
        features, valid, t, y = _calibration(recording)
        rows = (t >= 10) & (t < 180)
        roles = neuron_roles(np.where(valid, features[..., 0], 0.0)[rows], y[rows])
        top = np.argsort(roles)[-10:]
        classes = {(recording.labels[i] or "")[:3] for i in top}
        assert len(classes & COMMAND) >= 3, (recording.id, classes)


@pytest.mark.parametrize(("identities", "velocity", "lags"), [(False, False, 0), (True, True, 3)])
def test_frame_by_frame_scores_equal_batch_on_a_real_recording(
    bundled: Recording, identities: bool, velocity: bool, lags: int
) -> None:
    features, valid, t, y = _calibration(bundled)
    calib = (t >= 10) & (t < 180)
    after = np.flatnonzero(t >= 180)
    assert after[0] == np.flatnonzero(calib)[-1] + 1
    z = np.where(valid, features[..., 0], 0.0).astype(np.float64)
    dz = np.where(valid, features[..., 1], 0.0).astype(np.float64)
    roles = RoleConfig(k=5, velocity=velocity)
    v = bundled.velocity
    assert v is not None
    found = calibration_roles(z[calib], y[calib], v[calib], roles)
    pooled = RolePooler(found, 0.6, roles).recording(z, dz)
    names = tuple(sorted({lab for lab in bundled.labels if lab})[:12]) if identities else ()
    cross = cross_features(pooled, z, dz, identity_columns(bundled.labels, names))
    target, care = onset_target(y)
    model = CrossModel(
        roles=roles,
        names=names,
        state=fit_linear(cross[after], y[after], 0.1),
        onset=fit_linear(cross[after][care[after]], target[after][care[after]], 0.1),
        fusion=Head(np.random.default_rng(0).normal(size=4 * (1 + lags)), 0.1),  # any head
        head=CalibrationConfig(balanced=True),
        onset_c=0.1,
        fusion_lags=lags,
        behavior=Head(np.random.default_rng(1).normal(size=4 * (1 + lags) + 1), -0.1),
    )
    tracked = v.copy()
    tracked[after[::7]] = np.nan  # the tracker lost the animal: those frames fuse no velocity
    for fuse in (False, True):
        decoder = AnimalDecoder(model, bundled.labels, fuse_behavior=fuse)
        decoder.calibrate(features[calib], valid[calib], y[calib], 0.6, v[calib])
        batch = decoder.recording(features, valid, tracked)[after]
        live = np.array([decoder.step(features[i], valid[i], tracked[i]).copy() for i in after])
        np.testing.assert_allclose(live, batch, rtol=1e-9, atol=1e-12)
        assert live.shape == (len(after), len(COMPONENTS) + 1)
        assert np.isfinite(live).all() and (live.std(axis=0) > 0).all()
        if not fuse:
            neural = live
    lost = np.isnan(tracked[after])
    # velocity changes the decision only where there is one; the components never change
    np.testing.assert_array_equal(live[:, :-1], neural[:, :-1])
    np.testing.assert_array_equal(live[lost, -1], neural[lost, -1])
    assert np.mean(live[~lost, -1] != neural[~lost, -1]) > 0.5  # (both may clip at 1e-4)


def test_velocity_roles_need_velocity(bundled: Recording) -> None:
    z = np.zeros((10, 4))
    with pytest.raises(ConfigError, match="tracked velocity"):
        calibration_roles(z, np.arange(10) % 2 == 0, None, RoleConfig(k=2, velocity=True))


def test_live_parts_do_not_import_torch() -> None:
    import subprocess

    code = "import sys, rtdecode.calibration; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fold_scores_beat_chance_on_a_held_out_animal(flavell_dir) -> None:
    """One LOWO fold with a one-point grid: every component and the fused score rank reversal
    frames after calibration well above chance, nothing is scored during calibration."""
    from sklearn.metrics import roc_auc_score

    from rtdecode.calibration import ScoreConfig, fold_scores, load_animals

    animals = load_animals(flavell_dir)
    config = ScoreConfig(ks=(10,), cs=(0.1,), penalties=(30.0,))
    scores = fold_scores(animals, 2, identities=False, config=config)
    scored = scores.t >= 180.0
    assert np.isnan(scores.fused[~scored]).all()
    y = scores.reversal[scored]
    for name in COMPONENTS:
        assert roc_auc_score(y, scores.components[name][scored]) > 0.75, name
    assert roc_auc_score(y, scores.fused[scored]) > 0.85
    assert scores.choices["names"] == 0
