"""The PyTorch CPU engine."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from rtdecode.engines._base import StreamJob
from rtdecode.engines._common import ModelEngine
from rtdecode.models import ModelFile

__all__ = ["TorchEngine"]


class _Stack:
    """Preallocated batch inputs for up to ``capacity`` model windows of ``(K, n, F)``."""

    def __init__(self, capacity: int, k: int, n: int, f: int) -> None:
        self.capacity = capacity
        self.x = torch.zeros((capacity, k, n, f), dtype=torch.float32)
        self.valid = torch.zeros((capacity, k, n), dtype=torch.float32)
        self.ids = torch.zeros((capacity, n), dtype=torch.int64)
        # NumPy views of the same memory: filling a slot is a plain copy, no torch dispatch.
        self.x_np, self.valid_np, self.ids_np = self.x.numpy(), self.valid.numpy(), self.ids.numpy()


class TorchEngine(ModelEngine):
    """Runs the network eagerly in PyTorch under ``torch.inference_mode``.

    Parameters
    ----------
    model
        A loaded model file.
    threads
        Intra-op threads to set for this process (``None`` leaves torch's setting alone).
    """

    name = "torch"
    stacks_batches = True

    def __init__(self, model: ModelFile, threads: int | None = None) -> None:
        super().__init__(model)
        if threads is not None:
            torch.set_num_threads(threads)
        self.network = model.build()

    def _new_stream(self) -> None:
        super()._new_stream()
        self._x: torch.Tensor | None = None
        self._valid: torch.Tensor | None = None
        self._ids: torch.Tensor | None = None
        self._stacks: dict[int, _Stack] = {}

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

    def _probabilities(self, x: torch.Tensor, valid: torch.Tensor, ids: torch.Tensor) -> np.ndarray:
        """``(B, len(states))`` float32 probabilities of a batch of model windows."""
        with torch.inference_mode():
            logits, _ = self.network(x, valid, ids)
            return torch.softmax(logits, dim=1).numpy()

    def infer(self, window: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """State probabilities for one ``(W, n, F)`` window (see :class:`Engine`)."""
        self._adapt(window, valid)
        assert self._x is not None and self._valid is not None and self._ids is not None
        return self._probabilities(self._x, self._valid, self._ids)[0].copy()

    def infer_batch(self, jobs: Sequence[StreamJob]) -> list[np.ndarray]:
        """State probabilities for several streams' windows (see :class:`Engine`).

        Windows with the same neuron count go through the network as one batch, which pays
        the per-operator dispatch once: at N=150 on one thread, 2/4/8 windows took p50
        1.93/2.81/5.55 ms of CPU time against 2.36/3.98/7.83 ms back to back (0.69 ms a window
        at 8 against 0.98; ``python bench/batch_latency.py --engines torch --cpu-time``, 2
        shared cores; wall-time runs there gave 18 to 48 % less). The stacking buffers are
        allocated on the first batch of each neuron count (and again when a larger batch
        comes), then reused.
        """
        engines = self._stream_engines(jobs)
        groups: dict[int, list[int]] = {}
        for k, engine in enumerate(engines):
            groups.setdefault(engine.n_neurons, []).append(k)
        out: list[np.ndarray] = [np.empty(0, np.float32)] * len(jobs)
        for n, members in groups.items():
            if len(members) == 1:
                k = members[0]
                out[k] = engines[k].infer(jobs[k][1], jobs[k][2])
                continue
            stack = self._stack(n, len(members))
            for slot, k in enumerate(members):
                # Adapt and copy at once: a stream may bring more than one window.
                adapter = engines[k]._adapt(jobs[k][1], jobs[k][2])
                stack.x_np[slot] = adapter.x
                stack.valid_np[slot] = adapter.valid
                stack.ids_np[slot] = engines[k]._label_ids
            b = len(members)
            probs = self._probabilities(stack.x[:b], stack.valid[:b], stack.ids[:b])
            for slot, k in enumerate(members):
                out[k] = probs[slot].copy()
        return out

    def _stack(self, n: int, size: int) -> _Stack:
        """This engine's stacking buffers for ``size`` windows of ``n`` neurons."""
        stack = self._stacks.get(n)
        if stack is None or stack.capacity < size:
            k, f = self.model.model_window, self.n_features
            stack = self._stacks[n] = _Stack(size, k, n, f)
        return stack
