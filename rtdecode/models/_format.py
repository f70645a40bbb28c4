"""The model file: one small ``torch.save`` file of plain values and a state dict.

It loads with ``torch.load(..., weights_only=True)``, so opening a model file never runs code.
Keys: ``format`` (``"rtdecode-model"``), ``version``, ``architecture``, ``hyperparameters``,
``states``, ``window`` (stream frames the engine keeps), ``model_window`` and
``frame_interval_s`` (frames the network sees and their spacing), ``preprocess``
(:class:`~rtdecode.preprocess.PreprocessConfig` fields), ``labels`` (the name vocabulary),
``training`` (metadata) and ``state_dict``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from rtdecode.errors import ModelError
from rtdecode.models._registry import build_network
from rtdecode.preprocess import PreprocessConfig

__all__ = [
    "DEFAULT_MODEL_NAME",
    "FORMAT",
    "VERSION",
    "ModelFile",
    "default_model_path",
    "load_model_file",
    "save_model_file",
]

FORMAT = "rtdecode-model"
VERSION = 1
DEFAULT_MODEL_NAME = "default_model.pt"
_REQUIRED = (
    "architecture",
    "hyperparameters",
    "states",
    "window",
    "model_window",
    "frame_interval_s",
    "preprocess",
    "labels",
    "state_dict",
)


@dataclass
class ModelFile:
    """Everything a model file holds, with the network built from it.

    Parameters
    ----------
    architecture
        Registered network name (see :func:`rtdecode.models.build_network`).
    hyperparameters
        Keyword arguments of the network's constructor.
    states
        State names in output order.
    window
        Stream frames an engine keeps (enough to cover the model's time span at 0.3 s/frame).
    model_window
        Frames the network sees, spaced ``frame_interval_s`` apart.
    frame_interval_s
        Frame spacing the network was trained at, in seconds.
    preprocess
        Preprocessing the network was trained on.
    labels
        Neuron names with an embedding (empty for an identity-free model).
    state_dict
        The network's weights.
    training
        Free-form metadata of plain values (data, seed, epochs, metrics).
    """

    architecture: str
    hyperparameters: dict[str, Any]
    states: tuple[str, ...]
    window: int
    model_window: int
    frame_interval_s: float
    preprocess: PreprocessConfig
    labels: tuple[str, ...]
    state_dict: dict[str, torch.Tensor]
    training: dict[str, Any] = field(default_factory=dict)

    def build(self) -> torch.nn.Module:
        """The network with its weights loaded, in eval mode."""
        net = build_network(self.architecture, self.hyperparameters)
        net.load_state_dict(self.state_dict)
        return net.eval()


def default_model_path() -> Path:
    """Path of the model that ships inside the package."""
    return Path(str(resources.files("rtdecode") / "resources" / DEFAULT_MODEL_NAME))


def save_model_file(model: ModelFile, path: Path | str) -> Path:
    """Write ``model`` to ``path`` (parent folders are created).

    The file appears whole or not at all (written beside it, then renamed), so a run stopped
    mid-write (Ctrl-C, a killed worker) never leaves a truncated model in a fold cache.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": model.architecture,
        "hyperparameters": dict(model.hyperparameters),
        "states": list(model.states),
        "window": int(model.window),
        "model_window": int(model.model_window),
        "frame_interval_s": float(model.frame_interval_s),
        "preprocess": dataclasses.asdict(model.preprocess),
        "labels": list(model.labels),
        "training": dict(model.training),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict.items()},
    }
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        torch.save(payload, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def load_model_file(path: Path | str | None = None) -> ModelFile:
    """Read a model file (``None``: the shipped default model).

    Raises
    ------
    ModelError
        If the file is missing, is not a model file, or comes from an incompatible version.
    """
    path = default_model_path() if path is None else Path(path)
    fix = "pass --model PATH to a file written by 'rtdecode train', or omit --model for the default"
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist; {fix}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (
        Exception
    ) as exc:  # torch.load raises many kinds (KeyError, UnpicklingError, ...) on foreign bytes
        raise ModelError(
            f"model file {path} is not a readable rtdecode model ({exc.__class__.__name__}); {fix}"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"{path} is not an rtdecode model file (no format '{FORMAT}'); {fix}")
    if payload.get("version") != VERSION:
        raise ModelError(
            f"model file {path} has format version {payload.get('version')}, this rtdecode reads "
            f"version {VERSION}; retrain it with 'rtdecode train' or use a matching rtdecode"
        )
    missing = [key for key in _REQUIRED if key not in payload]
    if missing:
        raise ModelError(f"model file {path} lacks {missing}; it is truncated or hand-made; {fix}")
    try:
        model = ModelFile(
            architecture=str(payload["architecture"]),
            hyperparameters=dict(payload["hyperparameters"]),
            states=tuple(payload["states"]),
            window=int(payload["window"]),
            model_window=int(payload["model_window"]),
            frame_interval_s=float(payload["frame_interval_s"]),
            preprocess=PreprocessConfig(**payload["preprocess"]),
            labels=tuple(payload["labels"]),
            state_dict=dict(payload["state_dict"]),
            training=dict(payload.get("training", {})),
        )
        model.build()
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelError(
            f"model file {path} does not describe a valid network: {exc}; {fix}"
        ) from exc
    return model
