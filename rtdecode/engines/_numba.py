"""The Numba CPU engine: the relational GNN as one fused, allocation-free kernel per window."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rtdecode.engines._common import ModelEngine
from rtdecode.errors import ConfigError
from rtdecode.kernels.gnn import Packed, gnn_forward, gnn_weights, gnn_workspace, pack
from rtdecode.models import ModelFile
from rtdecode.models._gnn import RelationalGNN

__all__ = ["NumbaEngine"]

_ARCHITECTURE = "relational_gnn"


class NumbaEngine(ModelEngine):
    """Runs a ``relational_gnn`` model file with :func:`rtdecode.kernels.gnn.gnn_forward`.

    One thread, no operator dispatch. The constructor compiles the kernel (or loads it from
    Numba's cache: seconds the first time on a machine, then well under one); :meth:`prepare`
    sizes every buffer for the stream's neuron count and runs the kernel once, so the first
    live window runs warm compiled code; :meth:`infer` resamples the window into the adapter's
    buffers and calls the kernel, which allocates nothing.

    Streams made by :meth:`for_stream` share the packed weights and the compiled kernel and own
    their workspace. :meth:`infer_batch` calls the kernel once per window: looping over the
    windows inside one compiled call instead gained nothing beyond the noise between runs
    (N=150, 2/4/8 windows, p50 of thread CPU time: 554/1108/2051 us in one call against
    539/1114/2118 us back to back; other runs -1 % to +3 %; ``python bench/batch_latency.py
    --engines numba --cpu-time``), since a call's dispatch costs a few microseconds of a
    kernel's 0.1 to 0.3 ms (0.2 to 0.3 ms when those figures were measured).

    Parameters
    ----------
    model
        A loaded model file of the ``relational_gnn`` architecture.

    Raises
    ------
    ConfigError
        For any other architecture (run those with ``--engine torch``).
    """

    name = "numba"

    def __init__(self, model: ModelFile) -> None:
        if model.architecture != _ARCHITECTURE:
            raise ConfigError(
                f"engine 'numba' runs '{_ARCHITECTURE}' models only, this model file is "
                f"'{model.architecture}'; run it with --engine torch"
            )
        super().__init__(model)
        network = model.build()
        assert isinstance(network, RelationalGNN)
        self.recent = int(network.recent)
        state = {k: v.detach().cpu().numpy() for k, v in network.state_dict().items()}
        self.weights = gnn_weights(state, rounds=len(network.edge_src))
        self._packed_weights = pack(self.weights)
        # Compile (or load from Numba's cache) now, before any stream: one pass on two neurons.
        self.prepare(2)
        self._new_stream()

    def _new_stream(self) -> None:
        super()._new_stream()
        self._probs = np.zeros(len(self.states), np.float32)
        self._workspace: Packed | None = None

    def prepare(
        self,
        n_neurons: int,
        labels: Sequence[str | None] | None = None,
        frame_interval_s: float | None = None,
    ) -> None:
        """Size the workspace for ``n_neurons`` and run the kernel once (see :class:`Engine`)."""
        adapter = self._prepare(n_neurons, labels, frame_interval_s)
        self._workspace = pack(gnn_workspace(self.weights, n_neurons, self.model.model_window))
        self._run(adapter.x, adapter.valid)

    def _run(self, x: np.ndarray, valid: np.ndarray) -> None:
        weights, workspace = self._packed_weights, self._workspace
        assert workspace is not None
        gnn_forward(
            x,
            valid,
            self._label_ids,
            self.recent,
            weights.flat,
            weights.table,
            workspace.flat,
            workspace.table,
            self._probs,
        )

    def infer(self, window: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """State probabilities for one ``(W, n, F)`` window (see :class:`Engine`)."""
        adapter = self._adapt(window, valid)
        self._run(adapter.x, adapter.valid)
        return self._probs.copy()
