"""Exception classes. Every message names the offending thing and says how to fix it."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataFormatError",
    "MissingDependencyError",
    "ModelError",
    "RtdecodeError",
    "SourceError",
]


class RtdecodeError(Exception):
    """Base class of every error rtdecode raises on purpose."""


class DataFormatError(RtdecodeError):
    """A recording file is missing, unreadable, or does not hold what rtdecode needs."""


class ConfigError(RtdecodeError, ValueError):
    """A configuration value or command-line option is out of range or inconsistent."""


class ModelError(RtdecodeError):
    """A model file is missing, corrupt, or does not fit the stream it is asked to decode."""


class SourceError(RtdecodeError):
    """A stream source or sink address cannot be opened or understood."""


class MissingDependencyError(RtdecodeError, ImportError):
    """An optional dependency is not installed.

    Parameters
    ----------
    package
        The importable module that is missing.
    extra
        The name of the rtdecode extra that installs it.
    purpose
        What the user asked for that needs it.
    """

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package '{package}', which is not installed; "
            f"install it with: pip install 'rtdecode[{extra}]'"
        )
        self.package = package
        self.extra = extra
