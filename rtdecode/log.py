"""Logging set-up and a rate-limited logger for per-message problems on live streams."""

from __future__ import annotations

import logging
import time

__all__ = ["RateLimitedLog", "configure_logging", "get_logger"]

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def get_logger(name: str) -> logging.Logger:
    """Return the logger for an rtdecode module (``name`` is usually ``__name__``)."""
    return logging.getLogger(name)


def configure_logging(level: int | str = logging.INFO) -> None:
    """Send rtdecode's log records to stderr at ``level`` (idempotent)."""
    root = logging.getLogger("rtdecode")
    root.setLevel(level)
    if not any(getattr(h, "_rtdecode", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
        handler._rtdecode = True  # type: ignore[attr-defined]
        root.addHandler(handler)


class RateLimitedLog:
    """Log a recurring problem at most once per ``interval_s`` per key, counting the rest.

    Parameters
    ----------
    logger
        Where records go.
    interval_s
        Minimum seconds between two records with the same key.
    """

    def __init__(self, logger: logging.Logger, interval_s: float = 5.0) -> None:
        self._logger = logger
        self._interval = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str) -> bool:
        """Log ``message`` unless ``key`` was logged within the interval; return whether it was."""
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        skipped = self._suppressed.pop(key, 0)
        suffix = f" ({skipped} similar messages suppressed)" if skipped else ""
        self._logger.warning("%s%s", message, suffix)
        self._last[key] = now
        return True
