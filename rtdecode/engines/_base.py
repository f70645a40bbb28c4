"""The :class:`Engine` interface every runtime implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from rtdecode.preprocess import PreprocessConfig

__all__ = ["Engine"]


class Engine(ABC):
    """Runs a trained decoder on one window of preprocessed activity.

    Life cycle: :meth:`prepare` once per stream (and again whenever its neuron set changes),
    then :meth:`infer` once per window. ``infer`` must not allocate more than the runtime
    itself does, and every implementation gives the same probabilities within the tolerance
    its tests state.

    Attributes
    ----------
    name
        Runtime name as given to ``--engine`` (``"torch"``, ``"onnx"``, ...).
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
