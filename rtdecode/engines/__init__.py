"""Inference engines: one implementation per runtime behind the :class:`Engine` interface."""

from rtdecode.engines._base import Engine

__all__ = ["Engine"]
