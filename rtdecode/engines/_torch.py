"""The PyTorch CPU engine."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from rtdecode.engines._base import Engine
from rtdecode.engines._common import ModelEngine
from rtdecode.models import ModelFile

__all__ = ["TorchEngine"]


class TorchEngine(ModelEngine, Engine):
    """Runs the network eagerly in PyTorch under ``torch.inference_mode``.

    Parameters
    ----------
    model
        A loaded model file.
    threads
        Intra-op threads to set for this process (``None`` leaves torch's setting alone).
    """

    name = "torch"

    def __init__(self, model: ModelFile, threads: int | None = None) -> None:
        super().__init__(model)
        if threads is not None:
            torch.set_num_threads(threads)
        self.network = model.build()
        self._x: torch.Tensor | None = None
        self._valid: torch.Tensor | None = None
        self._ids: torch.Tensor | None = None

    def prepare(
        self,
        n_neurons: int,
        labels: Sequence[str | None] | None = None,
        frame_interval_s: float | None = None,
    ) -> None:
        """Size the buffers for ``n_neurons`` and encode ``labels`` (see :class:`Engine`)."""
        adapter = self._prepare(n_neurons, labels, frame_interval_s)
        # Torch tensors share memory with the adapter's numpy buffers: no copy per call.
        self._x = torch.from_numpy(adapter.x).unsqueeze(0)
        self._valid = torch.from_numpy(adapter.valid).unsqueeze(0)
        self._ids = torch.from_numpy(self._label_ids).unsqueeze(0)

    def infer(self, window: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """State probabilities for one ``(W, n, F)`` window (see :class:`Engine`)."""
        self._adapt(window, valid)
        assert self._x is not None and self._valid is not None and self._ids is not None
        with torch.inference_mode():
            logits, _ = self.network(self._x, self._valid, self._ids)
            probs = torch.softmax(logits[0], dim=0)
        return probs.numpy().astype(np.float32, copy=True)
