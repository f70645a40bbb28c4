"""Inference engines: one implementation per runtime behind the :class:`Engine` interface."""

from rtdecode.engines._base import Engine, StreamJob
from rtdecode.engines._load import ENGINES, load_engine

__all__ = ["ENGINES", "Engine", "StreamJob", "load_engine"]
