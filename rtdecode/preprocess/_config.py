"""Settings of the preprocessing stages, stored in model files and settable from TOML."""

from __future__ import annotations

from dataclasses import dataclass

from rtdecode.errors import ConfigError

__all__ = ["BaselineConfig", "PreprocessConfig"]


@dataclass(frozen=True)
class PreprocessConfig:
    """Causal per-neuron normalisation.

    Parameters
    ----------
    tau_s
        Time constant of the running mean and variance, in seconds. Short enough to act as a
        causal high-pass (slow drifts differ between animals and rigs).
    skew_tau_s
        Time constant of the running skewness of the z-score, in seconds: long, because it
        describes what kind of neuron a trace is rather than what it is doing now.
    min_std
        Floor on the running standard deviation (input units).
    max_dt_s
        Largest frame interval trusted for the derivative; longer gaps (a paused stream) are
        clamped to it so one late frame does not zero every derivative.
    """

    tau_s: float = 15.0
    skew_tau_s: float = 120.0
    min_std: float = 1e-3
    max_dt_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.tau_s > 0:
            raise ConfigError(f"preprocess.tau_s must be > 0 seconds, got {self.tau_s}")
        if not self.skew_tau_s > 0:
            raise ConfigError(f"preprocess.skew_tau_s must be > 0 seconds, got {self.skew_tau_s}")
        if not self.min_std > 0:
            raise ConfigError(f"preprocess.min_std must be > 0, got {self.min_std}")
        if not self.max_dt_s > 0:
            raise ConfigError(f"preprocess.max_dt_s must be > 0 seconds, got {self.max_dt_s}")


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
