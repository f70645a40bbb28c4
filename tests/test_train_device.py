"""Training follows its device; an engine's feature count is the model file's, and checked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from stream_support import decode

from rtdecode.data import Recording, bundled_recording
from rtdecode.engines import load_engine
from rtdecode.errors import ModelError
from rtdecode.kernels.normalize import N_FEATURES
from rtdecode.models import build_network, load_model_file, save_model_file
from rtdecode.preprocess import PreprocessConfig
from rtdecode.stream import ReplaySource
from rtdecode.training._dataset import prepare_recording
from rtdecode.training._fit import TrainConfig, train_model


def _two_animals() -> list:
    rec = bundled_recording()
    parts = (slice(0, 300), slice(300, 600))
    return [
        prepare_recording(
            Recording(
                id=f"part{i}",
                traces=rec.traces[part],
                timestamps=rec.timestamps[part],
                labels=rec.labels,
                reversal=None if rec.reversal is None else rec.reversal[part],
            ),
            PreprocessConfig(),
        )
        for i, part in enumerate(parts)
    ]


@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU"),
            ],
        ),
    ],
)
def test_training_on_a_device_gives_cpu_weights_that_decode(device: str) -> None:
    config = TrainConfig(epochs=1, batch=4, model_window=8)
    model = train_model(_two_animals(), config, PreprocessConfig(), device=device)
    assert all(t.device.type == "cpu" for t in model.state_dict.values())
    net = model.build()
    n = 9
    x = torch.zeros((1, model.model_window, n, model.hyperparameters["n_features"]))
    logits, _ = net(
        x, torch.ones((1, model.model_window, n)), torch.zeros((1, n), dtype=torch.long)
    )
    assert torch.isfinite(logits).all()


def test_an_engine_refuses_a_model_trained_on_other_features(tmp_path: Path) -> None:
    shipped = load_model_file()
    hyper = {**shipped.hyperparameters, "n_features": shipped.hyperparameters["n_features"] - 1}
    other = dataclasses.replace(
        shipped,
        hyperparameters=hyper,
        state_dict=build_network(shipped.architecture, hyper).state_dict(),
    )
    path = save_model_file(other, tmp_path / "two_features.pt")
    engine = load_engine(path, engine="torch")
    assert engine.n_features == hyper["n_features"]
    rec = bundled_recording()
    head = Recording("head", rec.traces[:20], rec.timestamps[:20], rec.labels)
    expected = rf"expects {hyper['n_features']} features per neuron .* gives {N_FEATURES}"
    with pytest.raises(ModelError, match=expected):
        decode(ReplaySource(head, speed=float("inf")), engine, max_batch=1)
