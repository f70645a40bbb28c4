"""Baseline tracking of raw fluorescence input: turns F into dF/F before normalisation."""

from __future__ import annotations

import numpy as np

from rtdecode.kernels.baseline import baseline_step
from rtdecode.preprocess._config import BaselineConfig

__all__ = ["BaselineTracker"]


class BaselineTracker:
    """Per-neuron causal baseline and dF/F, one frame at a time, with no allocation.

    Parameters
    ----------
    n_neurons
        Neurons per frame.
    config
        Time constants and floor.
    """

    def __init__(self, n_neurons: int, config: BaselineConfig | None = None) -> None:
        self.config = config or BaselineConfig()
        self.n_neurons = n_neurons
        self._baseline = np.zeros(n_neurons, np.float64)
        self._count = np.zeros(n_neurons, np.int64)
        self._last_t: float | None = None

    def reset(self) -> None:
        """Forget every baseline."""
        self._baseline.fill(0.0)
        self._count.fill(0)
        self._last_t = None

    def update(self, frame: np.ndarray, t: float, out: np.ndarray, valid: np.ndarray) -> int:
        """Write dF/F of ``(n,)`` ``frame`` taken at ``t`` seconds into ``out`` (NaN where
        the input was not finite); return the number of non-finite values."""
        dt = 0.0 if self._last_t is None else t - self._last_t
        self._last_t = t
        config = self.config
        return int(
            baseline_step(
                frame,
                dt,
                config.tau_rise_s,
                config.tau_fall_s,
                config.floor,
                self._baseline,
                self._count,
                out,
                valid,
            )
        )
