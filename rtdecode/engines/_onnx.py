"""The ONNX Runtime CPU engine (needs the ``onnx`` extra)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode._optional import import_optional
from rtdecode.engines._common import ModelEngine
from rtdecode.errors import ModelError
from rtdecode.models import ModelFile
from rtdecode.models._export import INPUT_NAMES, METADATA_KEY, OUTPUT_NAME, onnx_bytes
from rtdecode.preprocess import PreprocessConfig

__all__ = ["OnnxEngine", "load_onnx_engine"]


class OnnxEngine(ModelEngine):
    """Runs the exported graph in ONNX Runtime with inputs and output bound to fixed buffers.

    Streams made by :meth:`for_stream` share the session and bind their own buffers. The
    exported graph's batch axis is fixed at one window
    (:func:`rtdecode.models._export.onnx_bytes`), so :meth:`infer_batch` runs the windows back
    to back.

    Parameters
    ----------
    model
        A loaded model file; its graph is exported in memory (a few seconds) unless
        ``graph`` is given.
    graph
        A serialised ONNX document of the same model (from ``rtdecode export``).
    threads
        ONNX Runtime intra-op threads.
    """

    name = "onnx"

    def __init__(self, model: ModelFile, graph: bytes | None = None, threads: int = 2) -> None:
        super().__init__(model)
        ort = import_optional("onnxruntime", "onnx", "the ONNX Runtime engine")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            graph if graph is not None else onnx_bytes(model),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )

    def _new_stream(self) -> None:
        super()._new_stream()
        self._ids = np.zeros((1, 0), np.int64)
        self._probs = np.zeros((1, len(self.states)), np.float32)
        self._binding: Any = None

    def prepare(
        self,
        n_neurons: int,
        labels: Sequence[str | None] | None = None,
        frame_interval_s: float | None = None,
    ) -> None:
        """Size and bind the buffers for ``n_neurons`` (see :class:`Engine`)."""
        adapter = self._prepare(n_neurons, labels, frame_interval_s)
        self._ids = self._label_ids.reshape(1, -1)
        binding = self.session.io_binding()
        for name, array in zip(
            INPUT_NAMES, (adapter.x[None], adapter.valid[None], self._ids), strict=True
        ):
            binding.bind_cpu_input(name, array)
        binding.bind_output(
            OUTPUT_NAME, "cpu", 0, np.float32, list(self._probs.shape), self._probs.ctypes.data
        )
        self._binding = binding

    def infer(self, window: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """State probabilities for one ``(W, n, F)`` window (see :class:`Engine`)."""
        self._adapt(window, valid)
        assert self._binding is not None
        self.session.run_with_iobinding(self._binding)
        return self._probs[0].copy()


def load_onnx_engine(path: Path) -> OnnxEngine:
    """An :class:`OnnxEngine` from a ``.onnx`` file written by ``rtdecode export``.

    Raises
    ------
    ModelError
        If the file is missing, unreadable, or lacks the rtdecode metadata.
    """
    onnx = import_optional("onnx", "onnx", "loading an ONNX model file")
    fix = "export it with 'rtdecode export --model MODEL.pt --out FILE.onnx'"
    if not path.is_file():
        raise ModelError(f"ONNX file {path} does not exist; {fix}")
    try:
        proto = onnx.load_model_from_string(path.read_bytes())
    except Exception as exc:  # onnx raises protobuf's DecodeError and others
        raise ModelError(f"{path} is not a readable ONNX file ({exc}); {fix}") from exc
    meta = {entry.key: entry.value for entry in proto.metadata_props}
    if METADATA_KEY not in meta:
        raise ModelError(f"{path} has no rtdecode metadata, so its window is unknown; {fix}")
    values = json.loads(meta[METADATA_KEY])
    model = ModelFile(
        architecture=values["architecture"],
        hyperparameters=values["hyperparameters"],
        states=tuple(values["states"]),
        window=int(values["window"]),
        model_window=int(values["model_window"]),
        frame_interval_s=float(values["frame_interval_s"]),
        preprocess=PreprocessConfig(**values["preprocess"]),
        labels=tuple(values["labels"]),
        state_dict={},
        training=values.get("training", {}),
    )
    return OnnxEngine(model, graph=proto.SerializeToString())
