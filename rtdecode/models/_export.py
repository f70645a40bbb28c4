"""ONNX export of a model file's inference graph, with a dynamic neuron axis."""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rtdecode._optional import import_optional
from rtdecode.models._format import ModelFile

__all__ = [
    "INPUT_NAMES",
    "METADATA_KEY",
    "OUTPUT_NAME",
    "export_onnx",
    "model_metadata",
    "onnx_bytes",
]

INPUT_NAMES = ("x", "valid", "label_ids")
OUTPUT_NAME = "probs"
METADATA_KEY = "rtdecode"
_OPSET = 18


class _Probabilities(nn.Module):
    """Batch-of-one inference graph: features, validity, label ids -> state probabilities."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(
        self, x: torch.Tensor, valid: torch.Tensor, label_ids: torch.Tensor
    ) -> torch.Tensor:
        logits, _ = self.network(x, valid, label_ids)
        return torch.softmax(logits, dim=-1)


def onnx_bytes(model: ModelFile) -> bytes:
    """The model's inference graph as one self-contained ONNX document (weights embedded).

    Inputs ``x`` ``(1, K, n, F)`` float32, ``valid`` ``(1, K, n)`` float32 and ``label_ids``
    ``(1, n)`` int64, with ``n`` dynamic; output ``probs`` ``(1, n_states)``.
    """
    import_optional("onnxscript", "onnx", "ONNX export")
    onnx = import_optional("onnx", "onnx", "ONNX export")
    graph = _Probabilities(model.build()).eval()
    n = 23  # any example size; the neuron axis is exported as dynamic
    k = model.model_window
    f = int(model.hyperparameters["n_features"])
    example = (torch.zeros(1, k, n, f), torch.ones(1, k, n), torch.zeros(1, n, dtype=torch.int64))
    neurons = torch.export.Dim("neurons", min=1, max=4096)
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            graph,
            example,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({2: neurons}, {2: neurons}, {1: neurons}),
            opset_version=_OPSET,
            dynamo=True,
            verbose=False,
        )
    onnx_log.setLevel(level)
    assert program is not None
    proto = program.model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(model_metadata(model))
    onnx.checker.check_model(proto)
    return bytes(proto.SerializeToString())


def model_metadata(model: ModelFile) -> dict[str, Any]:
    """Everything in a model file except its weights, as JSON-ready values."""
    return {
        "architecture": model.architecture,
        "hyperparameters": model.hyperparameters,
        "states": list(model.states),
        "window": model.window,
        "model_window": model.model_window,
        "frame_interval_s": model.frame_interval_s,
        "preprocess": dataclasses.asdict(model.preprocess),
        "labels": list(model.labels),
        "training": model.training,
    }


def export_onnx(model: ModelFile, out: Path | str) -> Path:
    """Write the model's inference graph to ``out`` as a single ``.onnx`` file (no side file)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(onnx_bytes(model))
    return out
