"""Shared LSL helpers: the lazy pylsl import and channel labels in a stream description."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from rtdecode._optional import import_optional

__all__ = ["channel_labels", "pylsl", "set_channel_labels"]


def pylsl(purpose: str) -> ModuleType:
    """Import pylsl, or raise an error saying to install ``rtdecode[lsl]`` for ``purpose``."""
    return import_optional("pylsl", "lsl", purpose)


def set_channel_labels(info: Any, labels: Sequence[str | None], unit: str, kind: str) -> None:
    """Write ``desc/channels/channel/{label,unit,type}`` into a ``pylsl.StreamInfo``."""
    channels = info.desc().append_child("channels")
    for label in labels:
        channel = channels.append_child("channel")
        channel.append_child_value("label", label or "")
        channel.append_child_value("unit", unit)
        channel.append_child_value("type", kind)


def channel_labels(info: Any) -> tuple[str | None, ...] | None:
    """Channel labels from a full ``pylsl.StreamInfo`` (``None`` when it has none)."""
    count = info.channel_count()
    channel = info.desc().child("channels").child("channel")
    labels: list[str | None] = []
    while not channel.empty() and len(labels) < count:
        labels.append(channel.child_value("label") or None)
        channel = channel.next_sibling("channel")
    if len(labels) != count or all(label is None for label in labels):
        return None
    return tuple(labels)
