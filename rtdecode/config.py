"""Configuration: frozen dataclasses validated on creation, loadable from TOML."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rtdecode.errors import ConfigError

__all__ = ["PreprocessConfig", "from_dict", "load_toml", "read_toml"]

T = TypeVar("T")


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


def from_dict(cls: type[T], values: dict[str, Any], section: str) -> T:
    """Build dataclass ``cls`` from a mapping, naming unknown keys and the section they are in."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {unknown} in [{section}]; valid keys are {sorted(names)}"
        )
    return cls(**values)


def load_toml(path: Path | str, cls: type[T], section: str) -> T:
    """Load one section of a TOML file into dataclass ``cls`` (defaults when the section is absent).

    Parameters
    ----------
    path
        The TOML file.
    cls
        The dataclass to build, for example :class:`PreprocessConfig`.
    section
        The table name in the file, for example ``"preprocess"``.
    """
    path = Path(path)
    values = read_toml(path).get(section, {})
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path}: [{section}] must be a table, got {values!r}")
    return from_dict(cls, values, section)


def read_toml(path: Path | str) -> dict[str, Any]:
    """Read a whole TOML file, with errors that name the file and what is wrong."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist; check the path") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"config file {path} is a folder; give the path of a .toml file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
