"""The GPU engine: the network captured once per stream as a CUDA graph, replayed per window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from rtdecode.engines._common import ModelEngine
from rtdecode.errors import ConfigError
from rtdecode.models import ModelFile

__all__ = ["CudaGraphEngine", "cuda_available"]

_WARMUP_CALLS = 3


def cuda_available() -> bool:
    """Whether torch sees an NVIDIA GPU."""
    return torch.cuda.is_available()


class _Capture(NamedTuple):
    """One stream's buffers and captured graph (the graph reads and writes exactly these)."""

    host_x: torch.Tensor  # pinned (K, n, F), the adapter writes into it
    host_valid: torch.Tensor  # pinned (K, n)
    x: torch.Tensor  # device (1, K, n, F)
    valid: torch.Tensor  # device (1, K, n)
    ids: torch.Tensor  # device (1, n)
    probs: torch.Tensor  # device (len(states),), the graph's output
    graph: torch.cuda.CUDAGraph


class CudaGraphEngine(ModelEngine):
    """Runs the network on an NVIDIA GPU by replaying a captured CUDA graph.

    :meth:`prepare` builds pinned host buffers, static device tensors and the graph for the
    stream's neuron count; :meth:`infer` copies one window in, replays the graph and copies the
    probabilities back: a fixed sequence of launches with no Python-side kernel dispatch.
    Streams made by :meth:`for_stream` share the network on the device and capture graphs of
    their own; :meth:`infer_batch` replays them back to back.

    Parameters
    ----------
    model
        A loaded model file.
    half
        Run the network in float16 (inputs and the softmax stay float32).
    """

    name = "cuda"

    def __init__(self, model: ModelFile, half: bool = False) -> None:
        if not cuda_available():
            raise ConfigError(
                "engine 'cuda' needs an NVIDIA GPU that torch can see (torch.cuda.is_available() "
                "is False); use --engine torch or --engine onnx on this machine"
            )
        super().__init__(model)
        self.half = half
        self.device = torch.device("cuda")
        self.network = model.build().to(self.device).eval()
        if half:
            self.network = self.network.half()

    def _new_stream(self) -> None:
        super()._new_stream()
        self._capture: _Capture | None = None
        self._host_probs = torch.zeros(len(self.states), dtype=torch.float32).pin_memory()

    def prepare(
        self,
        n_neurons: int,
        labels: Sequence[str | None] | None = None,
        frame_interval_s: float | None = None,
    ) -> None:
        """Allocate buffers for ``n_neurons`` and capture the graph (see :class:`Engine`)."""
        self._capture = None
        adapter = self._prepare(n_neurons, labels, frame_interval_s)
        host_x = torch.from_numpy(adapter.x).pin_memory()
        host_valid = torch.from_numpy(adapter.valid).pin_memory()
        # The adapter writes straight into the pinned buffers from now on.
        adapter.x = host_x.numpy()
        adapter.valid = host_valid.numpy()
        dtype = torch.float16 if self.half else torch.float32
        x = torch.zeros((1, *host_x.shape), dtype=dtype, device=self.device)
        valid = torch.zeros((1, *host_valid.shape), dtype=dtype, device=self.device)
        ids = torch.from_numpy(self._label_ids).unsqueeze(0).to(self.device)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(_WARMUP_CALLS):
                self._forward(x, valid, ids)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.inference_mode():
            probs = self._forward(x, valid, ids)
        torch.cuda.synchronize()
        self._capture = _Capture(host_x, host_valid, x, valid, ids, probs, graph)

    def _forward(self, x: torch.Tensor, valid: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        logits, _ = self.network(x, valid, ids)
        return torch.softmax(logits[0].float(), dim=0)

    def infer(self, window: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """State probabilities for one ``(W, n, F)`` window (see :class:`Engine`)."""
        self._adapt(window, valid)
        capture = self._capture
        if capture is None:
            raise ConfigError("call prepare(n_neurons, ...) before infer()")
        capture.x[0].copy_(capture.host_x, non_blocking=True)
        capture.valid[0].copy_(capture.host_valid, non_blocking=True)
        capture.graph.replay()
        self._host_probs.copy_(capture.probs, non_blocking=True)
        torch.cuda.current_stream().synchronize()
        return self._host_probs.numpy().copy()
