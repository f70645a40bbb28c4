"""The torch engine on the shipped default model and the bundled real recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rtdecode.data import bundled_recording
from rtdecode.engines import Engine, load_engine
from rtdecode.errors import ConfigError, ModelError
from rtdecode.models import load_model_file, save_model_file
from rtdecode.preprocess import preprocess_traces
from rtdecode.training import predict_recording, prepare_recording


@pytest.fixture(scope="module")
def recording():
    return bundled_recording()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return load_engine()


def _features(recording, engine: Engine):
    return preprocess_traces(recording.traces, recording.timestamps, engine.preprocess)


def test_default_engine_gives_probabilities_for_the_bundled_recording(recording, engine) -> None:
    features, valid = _features(recording, engine)
    w = engine.window
    assert engine.states == ("forward", "reversal")
    assert engine.n_features == features.shape[2]
    for labels in (recording.labels, None):
        engine.prepare(recording.n_neurons, labels, recording.frame_interval)
        probs = np.stack(
            [engine.infer(features[t - w : t], valid[t - w : t]) for t in (w, 400, 800)]
        )
        assert probs.shape == (3, 2) and probs.dtype == np.float32
        assert np.all(np.isfinite(probs)) and np.all(probs >= 0)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_engine_matches_the_batch_path_used_for_evaluation(recording, engine) -> None:
    model = load_model_file()
    prepared = prepare_recording(recording, model.preprocess)
    frames, batch_probs = predict_recording(model, model.build(), prepared)
    engine.prepare(recording.n_neurons, recording.labels, recording.frame_interval)
    w = engine.window
    for i in (0, 100, len(frames) - 1):
        t = frames[i] + 1
        probs = engine.infer(prepared.features[t - w : t], prepared.valid[t - w : t])
        assert probs[1] == pytest.approx(batch_probs[i], abs=1e-5)


def test_without_labels_the_order_of_neurons_does_not_matter(recording, engine) -> None:
    features, valid = _features(recording, engine)
    w = engine.window
    perm = np.random.default_rng(0).permutation(recording.n_neurons)
    engine.prepare(recording.n_neurons, None, recording.frame_interval)
    a = engine.infer(features[300 - w : 300], valid[300 - w : 300])
    b = engine.infer(features[300 - w : 300][:, perm], valid[300 - w : 300][:, perm])
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_any_neuron_count_works(recording, engine) -> None:
    features, valid = _features(recording, engine)
    w = engine.window
    for n in (1, 17, recording.n_neurons, 302):
        cols = np.arange(n) % recording.n_neurons
        engine.prepare(n, None, 0.5)
        probs = engine.infer(
            np.ascontiguousarray(features[400 - w : 400][:, cols]),
            np.ascontiguousarray(valid[400 - w : 400][:, cols]),
        )
        assert probs.shape == (2,) and np.isfinite(probs).all()


def test_changing_future_frames_does_not_change_a_prediction(recording, engine) -> None:
    t = 500
    traces = recording.traces.copy()
    traces[t:] = np.random.default_rng(1).normal(size=traces[t:].shape) * 100.0
    engine.prepare(recording.n_neurons, recording.labels, recording.frame_interval)
    w = engine.window
    before = []
    for tr in (recording.traces, traces):
        features, valid = preprocess_traces(tr, recording.timestamps, engine.preprocess)
        before.append(engine.infer(features[t - w : t], valid[t - w : t]))
    np.testing.assert_array_equal(before[0], before[1])


def test_masked_values_do_not_leak_into_the_prediction(recording, engine) -> None:
    features, valid = _features(recording, engine)
    w = engine.window
    window, ok = features[300 - w : 300].copy(), valid[300 - w : 300].copy()
    ok[:, 5] = False
    engine.prepare(recording.n_neurons, None, recording.frame_interval)
    a = engine.infer(window, ok)
    window[:, 5] = 1e6
    np.testing.assert_allclose(engine.infer(window, ok), a, atol=1e-6)


def test_infer_before_prepare_or_with_a_wrong_shape_names_the_fix(engine) -> None:
    fresh = load_engine()
    w, f = fresh.window, fresh.n_features
    with pytest.raises(ModelError, match=r"prepare\("):
        fresh.infer(np.zeros((w, 10, f), np.float32), np.ones((w, 10), bool))
    fresh.prepare(10)
    with pytest.raises(ModelError, match="prepare"):
        fresh.infer(np.zeros((w, 11, f), np.float32), np.ones((w, 11), bool))
    with pytest.raises(ModelError, match="one label"):
        fresh.prepare(10, ["AVAL"] * 3)


def test_unknown_engine_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="torch"):
        load_engine(engine="tensorflow")


def test_bad_model_files_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"does not exist.*rtdecode train"):
        load_engine(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match=r"not a readable rtdecode model.*rtdecode train"):
        load_engine(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelError, match="not an rtdecode model file"):
        load_engine(foreign)
    model = load_model_file()
    path = save_model_file(model, tmp_path / "ok.pt")
    payload = torch.load(path, weights_only=True)
    payload["version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(ModelError, match=r"version 99.*retrain"):
        load_engine(tmp_path / "future.pt")
    payload["version"] = 1
    payload["architecture"] = "transformer9000"
    torch.save(payload, tmp_path / "arch.pt")
    with pytest.raises(ModelError, match="unknown model architecture"):
        load_engine(tmp_path / "arch.pt")


def test_a_saved_model_loads_with_weights_only_and_round_trips(tmp_path: Path) -> None:
    model = load_model_file()
    path = save_model_file(model, tmp_path / "copy.pt")
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "rtdecode-model" and payload["states"] == ["forward", "reversal"]
    again = load_model_file(path)
    assert again.window == model.window and again.labels == model.labels
    assert path.stat().st_size < 1_000_000


@pytest.mark.parametrize("interval", [0.3, 0.8])
def test_other_frame_rates_match_the_batch_path(recording, engine, interval: float) -> None:
    from rtdecode.data import Recording

    faster = Recording(
        id="rate",
        traces=recording.traces,
        timestamps=np.arange(recording.n_frames) * interval,
        labels=recording.labels,
        reversal=recording.reversal,
    )
    model = load_model_file()
    prepared = prepare_recording(faster, model.preprocess)
    frames, batch_probs = predict_recording(model, model.build(), prepared)
    engine.prepare(faster.n_neurons, faster.labels, faster.frame_interval)
    w = engine.window
    for i in (0, 250):
        t = frames[i] + 1
        probs = engine.infer(prepared.features[t - w : t], prepared.valid[t - w : t])
        assert probs[1] == pytest.approx(batch_probs[i], abs=1e-5)
