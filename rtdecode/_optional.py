"""Lazy imports of optional backends with an install hint when they are missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from rtdecode.errors import MissingDependencyError

__all__ = ["import_optional"]


def import_optional(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install.

    Parameters
    ----------
    module
        Dotted module name, for example ``"pylsl"``.
    extra
        The rtdecode extra that provides it, for example ``"lsl"``.
    purpose
        Short description of the feature that needs it, used in the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".")[0], extra, purpose) from exc
