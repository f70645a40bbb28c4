"""Causal preprocessing, frames in -> model inputs out, in the order data flows through it.

1. :class:`BaselineTracker` (``_baseline``): raw fluorescence -> dF/F, when the input is raw F.
2. :class:`Preprocessor` (``_online``): running z-score, derivative and skewness per neuron.
3. :func:`resample_plan` (``_resample``): the window of stream frames -> the model's time grid.

Settings are :class:`PreprocessConfig` and :class:`BaselineConfig` (``_config``); the Numba
kernels the stages run are in :mod:`rtdecode.kernels`.
"""

from rtdecode.preprocess._baseline import BaselineTracker
from rtdecode.preprocess._config import BaselineConfig, PreprocessConfig
from rtdecode.preprocess._online import N_FEATURES, Preprocessor, preprocess_traces
from rtdecode.preprocess._resample import resample_plan

__all__ = [
    "N_FEATURES",
    "BaselineConfig",
    "BaselineTracker",
    "PreprocessConfig",
    "Preprocessor",
    "preprocess_traces",
    "resample_plan",
]
