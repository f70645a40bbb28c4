"""The :class:`TriggerOutput` interface every trigger output implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from rtdecode.policy import TriggerEvent

__all__ = ["TriggerOutput"]


class TriggerOutput(ABC):
    """One output of the closed loop.

    A *driving* output (the serial device) turns a light on and off, so it is written first
    and has a safe state; a reporting output (ZeroMQ, LSL) carries every event for other
    programs and recorders. Methods are called under the controller's lock, from the
    decoding thread or the watchdog thread, and must never block for long: a device that
    stops answering raises ``OSError`` (the controller then disarms).
    """

    uri: str
    drives: bool = False

    @abstractmethod
    def open(self) -> None:
        """Open the output; raise :class:`~rtdecode.errors.SourceError` if it cannot be used."""

    @abstractmethod
    def emit(self, event: TriggerEvent) -> None:
        """Carry one event (a driving output turns ``fire``/``sham`` into a pulse)."""

    def safe(self) -> None:  # noqa: B027 - reporting outputs have no safe state
        """Drive the safe state (light off)."""

    def heartbeat(self) -> None:  # noqa: B027 - only devices with a watchdog need it
        """Tell the device the host is alive."""

    @abstractmethod
    def close(self) -> None:
        """Release the output (a driving output is left in its safe state)."""
