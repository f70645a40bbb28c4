"""What every engine that runs an rtdecode model file shares: attributes, checks, resampling."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Self

import numpy as np

from rtdecode.engines._adapter import WindowAdapter
from rtdecode.engines._base import Engine, StreamJob
from rtdecode.errors import ModelError
from rtdecode.models import LabelVocabulary, ModelFile

__all__ = ["ModelEngine"]


class ModelEngine(Engine):
    """An :class:`Engine` running a model file: its contract values and per-stream state.

    Everything ``__init__`` loads is the model, shared by :meth:`for_stream`; everything a
    stream owns is made by :meth:`_new_stream` (which subclasses extend) and by ``prepare``.
    """

    def __init__(self, model: ModelFile) -> None:
        self.model = model
        self.states = model.states
        self.window = model.window
        # What the network was trained on, from the model file: the pipeline checks it against
        # what its preprocessing gives, so a model from another feature set is refused.
        self.n_features = int(model.hyperparameters["n_features"])
        self.preprocess = model.preprocess
        self.vocabulary = LabelVocabulary(model.labels)
        self._new_stream()

    def _new_stream(self) -> None:
        """Reset the per-stream state to that of an unprepared engine (extended by subclasses)."""
        self.n_neurons = 0
        self._adapter: WindowAdapter | None = None
        self._label_ids = np.zeros(0, np.int64)

    def for_stream(self) -> Self:
        """A new, unprepared engine sharing this one's loaded model (see :class:`Engine`)."""
        other = copy.copy(self)  # shares what __init__ loaded; _new_stream replaces the rest
        other._new_stream()
        return other

    def _stream_engines(self, jobs: Sequence[StreamJob]) -> list[Self]:
        """The engines of ``jobs``, each checked to run this engine's loaded model and to be
        prepared for its window, before any job runs.
        """
        engines = []
        for k, (engine, window, valid) in enumerate(jobs):
            if type(engine) is not type(self) or engine.model is not self.model:
                raise ModelError(
                    f"job {k} of the batch has an engine that does not share this engine's "
                    "loaded model; make every stream's engine with for_stream() of one "
                    "loaded engine"
                )
            try:
                engine._checked_adapter(window, valid)
            except ModelError as exc:
                raise ModelError(f"job {k} of the batch: {exc}") from exc
            engines.append(engine)
        return engines

    def infer_batch(self, jobs: Sequence[StreamJob]) -> list[np.ndarray]:
        """Each job's own :meth:`infer`, back to back (see :class:`Engine`)."""
        self._stream_engines(jobs)
        return super().infer_batch(jobs)

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

    def _checked_adapter(self, window: np.ndarray, valid: np.ndarray) -> WindowAdapter:
        adapter = self._adapter
        if adapter is None:
            raise ModelError("call prepare(n_neurons, ...) before infer()")
        expected = (self.window, self.n_neurons, self.n_features)
        if window.shape != expected or valid.shape != expected[:2]:
            raise ModelError(
                f"window shape {window.shape} / valid shape {valid.shape} do not match the "
                f"prepared stream {expected}; call prepare() again when the neuron count changes"
            )
        return adapter

    def _adapt(self, window: np.ndarray, valid: np.ndarray) -> WindowAdapter:
        adapter = self._checked_adapter(window, valid)
        adapter(window, valid)
        return adapter
