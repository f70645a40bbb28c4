"""Configuration: frozen dataclasses validated on creation, loadable from TOML."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from rtdecode.errors import ConfigError

# PreprocessConfig lives with the preprocessing; re-exported for `from rtdecode.config import ...`.
from rtdecode.preprocess._config import PreprocessConfig

__all__ = ["PreprocessConfig", "from_dict", "load_toml", "read_toml"]

T = TypeVar("T")


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
