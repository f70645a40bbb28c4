"""Baseline tracking of raw fluorescence input: turns F into dF/F before normalisation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtdecode.errors import ConfigError
from rtdecode.kernels.baseline import baseline_step

__all__ = ["BaselineConfig", "BaselineTracker"]


@dataclass(frozen=True)
class BaselineConfig:
    """How the baseline F0 follows raw fluorescence (see :mod:`rtdecode.kernels.baseline`).

    Parameters
    ----------
    tau_rise_s
        Seconds for F0 to follow the signal up (slow: transients should not lift it).
    tau_fall_s
        Seconds for F0 to follow the signal down (fast: it tracks the lower envelope).
    floor
        Smallest ``|F0|`` divided by (input units).
    """

    tau_rise_s: float = 60.0
    tau_fall_s: float = 5.0
    floor: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("tau_rise_s", "tau_fall_s", "floor"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"baseline.{name} must be > 0, got {getattr(self, name)}")


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
