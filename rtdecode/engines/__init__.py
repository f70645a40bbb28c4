"""Inference engines: one implementation per runtime behind the :class:`Engine` interface.

:data:`ENGINES` names the runtimes without importing any (reading a configuration needs no
torch); :class:`Engine`, :class:`StreamJob` and :func:`load_engine` are imported on first use.
"""

import importlib
from typing import TYPE_CHECKING, Any

from rtdecode.engines._names import ENGINES

if TYPE_CHECKING:
    from rtdecode.engines._base import Engine, StreamJob
    from rtdecode.engines._load import load_engine

__all__ = ["ENGINES", "Engine", "StreamJob", "load_engine"]

_LAZY = {"Engine": "_base", "StreamJob": "_base", "load_engine": "_load"}


def __getattr__(name: str) -> Any:
    """Import :class:`Engine`, :class:`StreamJob` and :func:`load_engine` on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f"rtdecode.engines.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rtdecode.engines' has no attribute {name!r}")
