"""The :class:`Engine` interface every runtime implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from rtdecode.errors import ModelError
from rtdecode.preprocess import PreprocessConfig

__all__ = ["Engine", "StreamJob"]

StreamJob = tuple["Engine", np.ndarray, np.ndarray]
"""One window to decode in :meth:`Engine.infer_batch`: ``(stream engine, window, valid)``."""


class Engine(ABC):
    """Runs a trained decoder on one window of preprocessed activity.

    Life cycle: :meth:`prepare` once per stream (and again whenever its neuron set changes),
    then :meth:`infer` once per window. ``infer`` must not allocate more than the runtime
    itself does, and every implementation gives the same probabilities within the tolerance
    its tests state.

    Several streams in one process: :meth:`for_stream` gives each further stream its own
    engine on the same loaded model, and :meth:`infer_batch` decodes the windows of several
    streams that are ready at the same time in one call.

    Attributes
    ----------
    name
        Runtime name as given to ``--engine`` (``"torch"``, ``"onnx"``, ...).
    stacks_batches
        Whether :meth:`infer_batch` decodes several windows in one call for less than the
        calls one by one (torch). Otherwise it runs them back to back, and a loop serving
        several streams publishes each window's result as soon as its own forward is done.
    states
        Behavioural state names, in the order of the probabilities ``infer`` returns.
    window
        Frames of history the model needs (W).
    n_features
        Feature channels per neuron and frame (F), as produced by the Preprocessor.
    preprocess
        The preprocessing the model was trained with; the live path must build its
        Preprocessor from it.
    """

    name: str
    stacks_batches = False
    states: tuple[str, ...]
    window: int
    n_features: int
    preprocess: PreprocessConfig

    @abstractmethod
    def prepare(
        self,
        n_neurons: int,
        labels: Sequence[str | None] | None = None,
        frame_interval_s: float | None = None,
    ) -> None:
        """Get ready for a stream of ``n_neurons`` neurons.

        Parameters
        ----------
        n_neurons
            Neurons per frame.
        labels
            Identity per neuron (``None`` entries where unknown), or ``None`` for no identities.
        frame_interval_s
            The stream's typical seconds between frames, when known.
        """

    @abstractmethod
    def infer(self, window: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Return state probabilities for one window.

        Parameters
        ----------
        window
            ``(W, n, F)`` float32 features, oldest frame first.
        valid
            ``(W, n)`` bool, False where a value was carried forward over missing data.

        Returns
        -------
        numpy.ndarray
            ``(len(states),)`` float32 probabilities summing to 1.
        """

    def for_stream(self) -> Engine:
        """A new, unprepared engine for another stream that shares this engine's loaded model.

        The weights, network, runtime session and compiled kernels are shared (nothing is
        loaded or compiled again); everything :meth:`prepare` makes (resampling, label ids,
        buffers) belongs to the new engine, so streams of different neuron counts, labels and
        frame intervals are prepared independently and each gets what an engine of its own
        would give.

        Raises
        ------
        ModelError
            If this runtime cannot serve several streams from one loaded model.
        """
        raise ModelError(
            f"engine '{self.name}' cannot serve several streams from one loaded model; "
            "load one engine per stream"
        )

    def infer_batch(self, jobs: Sequence[StreamJob]) -> list[np.ndarray]:
        """State probabilities for the windows of several streams, in the order given.

        This default runs each job's own :meth:`infer`, back to back; runtimes where one call
        over several windows costs less than the calls one by one override it.

        Parameters
        ----------
        jobs
            ``(engine, window, valid)`` per window: the stream's prepared engine (this engine or
            another made by :meth:`for_stream` from the same loaded engine), and its window and
            validity as for :meth:`infer`. A stream may bring more than one window.

        Returns
        -------
        list of numpy.ndarray
            One ``(len(states),)`` float32 array per job, equal to that engine's ``infer``
            within the tolerance of the runtime's tests.

        Raises
        ------
        ModelError
            Naming the job, before any job runs: its engine runs another loaded model, or is not
            prepared for its window's shape (engines of a model file check this).
        """
        return [engine.infer(window, valid) for engine, window, valid in jobs]
