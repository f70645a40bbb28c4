"""The inferred graph: the model's own edge weights for the latest window, off the decode thread.

The view process keeps the stream's last ``window`` preprocessed rows (as the decoder's ring
buffer holds them), maps them onto the model's time grid with the engines' own
:class:`~rtdecode.engines._adapter.WindowAdapter`, and runs the network's
:meth:`~rtdecode.models.RelationalGNN.edge_weights` and forward (for each neuron's role score)
at a low rate. These are the numbers the network computes for that window, not a new statistic.
Models without edges (the baselines) give none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rtdecode.log import get_logger

__all__ = ["EdgeModule", "top_edges"]

_log = get_logger(__name__)


def top_edges(
    weights: np.ndarray, k: int, per_node: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` largest positive off-diagonal entries of ``weights``, taking at most
    ``per_node`` edges at any one neuron (so one hub does not hide the rest of the graph):
    ``(targets, sources, values)``, strongest first."""
    w = np.array(weights, dtype=float)
    np.fill_diagonal(w, -np.inf)
    count = np.zeros(len(w), np.int64)
    picked: list[tuple[int, int]] = []
    for flat in np.argsort(w, axis=None)[::-1]:
        i, j = divmod(int(flat), w.shape[1])
        if len(picked) == k or not w[i, j] > 0:
            break
        if count[i] < per_node and count[j] < per_node:
            picked.append((i, j))
            count[i] += 1
            count[j] += 1
    rows = np.array([i for i, _ in picked], np.int64)
    cols = np.array([j for _, j in picked], np.int64)
    return rows, cols, w[rows, cols]


class EdgeModule:
    """Runs the stream's model on the view's copy of the window.

    Parameters
    ----------
    model
        Model file path, or ``None`` for the shipped model.
    window
        Stream frames in a window (the decoder's engine window).
    n_neurons
        Neurons of the stream layout.
    labels
        Identities (for the label embedding), or ``None``.
    frame_interval_s
        The stream's frame interval (``None``: the model's).

    Attributes
    ----------
    available
        Whether the model has an edge module (``reason`` says why not).
    """

    def __init__(
        self,
        model: str | None,
        window: int,
        n_neurons: int,
        labels: Sequence[str | None] | None,
        frame_interval_s: float | None,
    ) -> None:
        import torch

        from rtdecode.engines._adapter import WindowAdapter
        from rtdecode.models import LabelVocabulary, load_model_file

        loaded = load_model_file(model)
        self.window = window
        self.n_features = int(loaded.hyperparameters["n_features"])
        self.network: Any = loaded.build()  # RelationalGNN, or a model without edges
        self.available = hasattr(self.network, "edge_weights")
        self.reason = "" if self.available else f"the {loaded.architecture} model has no edges"
        self.adapter = WindowAdapter(
            window,
            loaded.model_window,
            loaded.frame_interval_s,
            frame_interval_s,
            n_neurons,
            self.n_features,
        )
        ids = LabelVocabulary(loaded.labels).encode(labels, n_neurons)
        self._ids = torch.as_tensor(ids, dtype=torch.int64).unsqueeze(0)
        self._torch = torch

    def __call__(self, window: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Edge weights ``(n, n)`` and role scores ``(n,)`` for one ``(W, n, F)`` window."""
        torch = self._torch
        self.adapter(window, valid)
        x = torch.from_numpy(self.adapter.x).unsqueeze(0)
        v = torch.from_numpy(self.adapter.valid).unsqueeze(0)
        with torch.inference_mode():
            edges = self.network.edge_weights(x, v, self._ids)[0].numpy()
            _, role = self.network(x, v, self._ids)  # the forward pass: role scores
        return edges, role[0].numpy()
