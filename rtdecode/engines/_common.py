"""What every engine that runs an rtdecode model file shares: attributes, checks, resampling."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rtdecode.engines._adapter import WindowAdapter
from rtdecode.errors import ModelError
from rtdecode.models import LabelVocabulary, ModelFile

__all__ = ["ModelEngine"]


class ModelEngine:
    """Mixin holding a model file's contract values and the per-stream window adapter."""

    def __init__(self, model: ModelFile) -> None:
        self.model = model
        self.states = model.states
        self.window = model.window
        # What the network was trained on, from the model file: the pipeline checks it against
        # what its preprocessing gives, so a model from another feature set is refused.
        self.n_features = int(model.hyperparameters["n_features"])
        self.preprocess = model.preprocess
        self.vocabulary = LabelVocabulary(model.labels)
        self.n_neurons = 0
        self._adapter: WindowAdapter | None = None
        self._label_ids = np.zeros(0, np.int64)

    def _prepare(
        self,
        n_neurons: int,
        labels: Sequence[str | None] | None,
        frame_interval_s: float | None,
    ) -> WindowAdapter:
        if n_neurons < 1:
            raise ModelError(f"a stream needs at least one neuron, got n_neurons={n_neurons}")
        if labels is not None and len(labels) != n_neurons:
            raise ModelError(
                f"{len(labels)} labels for {n_neurons} neurons; give one label (or None) per "
                "neuron, or no labels at all"
            )
        if frame_interval_s is not None and not frame_interval_s > 0:
            raise ModelError(f"frame_interval_s must be > 0 seconds, got {frame_interval_s}")
        self.n_neurons = n_neurons
        self._adapter = WindowAdapter(
            self.window,
            self.model.model_window,
            self.model.frame_interval_s,
            frame_interval_s,
            n_neurons,
            self.n_features,
        )
        self._label_ids = self.vocabulary.encode(labels, n_neurons)
        return self._adapter

    def _adapt(self, window: np.ndarray, valid: np.ndarray) -> WindowAdapter:
        adapter = self._adapter
        if adapter is None:
            raise ModelError("call prepare(n_neurons, ...) before infer()")
        expected = (self.window, self.n_neurons, self.n_features)
        if window.shape != expected or valid.shape != expected[:2]:
            raise ModelError(
                f"window shape {window.shape} / valid shape {valid.shape} do not match the "
                f"prepared stream {expected}; call prepare() again when the neuron count changes"
            )
        adapter(window, valid)
        return adapter
