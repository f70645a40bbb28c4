"""``load_engine``: a model file plus a runtime name gives a ready :class:`Engine`."""

from __future__ import annotations

from pathlib import Path

from rtdecode.engines._base import Engine
from rtdecode.engines._names import ENGINES
from rtdecode.errors import ConfigError
from rtdecode.models import load_model_file

__all__ = ["ENGINES", "load_engine"]


def load_engine(model: Path | str | None = None, engine: str = "torch") -> Engine:
    """Load a model file into the named runtime.

    Parameters
    ----------
    model
        A model file from ``rtdecode train`` (or, for ``"onnx"``, a ``.onnx`` file from
        ``rtdecode export``); ``None`` for the shipped default model.
    engine
        ``"torch"``, ``"onnx"`` (ONNX Runtime, needs the ``onnx`` extra), ``"cuda"`` (a CUDA
        graph on an NVIDIA GPU) or ``"numba"`` (one fused Numba kernel, ``relational_gnn``
        models only).
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    if model is not None and Path(model).suffix.lower() == ".onnx":
        if engine != "onnx":
            raise ConfigError(
                f"{model} is an ONNX file; run it with --engine onnx, or pass the .pt model "
                "file it was exported from"
            )
        from rtdecode.engines._onnx import load_onnx_engine

        return load_onnx_engine(Path(model))
    loaded = load_model_file(model)
    if engine == "torch":
        from rtdecode.engines._torch import TorchEngine

        return TorchEngine(loaded)
    if engine == "numba":
        from rtdecode.engines._numba import NumbaEngine

        return NumbaEngine(loaded)
    if engine == "cuda":
        from rtdecode.engines._cuda import CudaGraphEngine

        return CudaGraphEngine(loaded)
    from rtdecode.engines._onnx import OnnxEngine

    return OnnxEngine(loaded)
