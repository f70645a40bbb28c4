"""``load_engine``: a model file plus a runtime name gives a ready :class:`Engine`."""

from __future__ import annotations

from pathlib import Path

from rtdecode.engines._base import Engine
from rtdecode.errors import ConfigError
from rtdecode.models import load_model_file

__all__ = ["ENGINES", "load_engine"]

ENGINES = ("torch", "onnx")


def load_engine(model: Path | str | None = None, engine: str = "torch") -> Engine:
    """Load a model file into the named runtime.

    Parameters
    ----------
    model
        A model file from ``rtdecode train``; ``None`` for the shipped default model.
    engine
        ``"torch"`` or ``"onnx"`` (ONNX Runtime, needs the ``onnx`` extra).
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    loaded = load_model_file(model)
    if engine == "torch":
        from rtdecode.engines._torch import TorchEngine

        return TorchEngine(loaded)
    from rtdecode.engines._onnx import OnnxEngine

    return OnnxEngine(loaded)
