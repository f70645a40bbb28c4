"""The view feed: the decoder process drains its taps on a thread and publishes what it took.

Message (ZeroMQ multipart, on a PUB socket the decoder binds on loopback):
``[b"view", header, features, valid]``; the header is UTF-8 JSON
``{"v": 1, "stream": int, "shape": [k, n, F], "frames": {column: [k values]},
"behavior": [[seq, t, velocity, reversal], ...], "events": [event, ...]}`` with, now and then,
``"context"`` (:class:`~rtdecode.view._tap.StreamContext`), ``"health"`` (the decoder's
counters), ``"tap"`` (``offered``, ``dropped``) and, once, ``"stopped"`` (the summary);
``features`` is the ``(k, n, F)`` float32 rows, ``valid`` the ``(k, n)`` uint8 masks.

The publisher thread costs the decode loop nothing but the tap's appends: PUB never blocks
(a view that lags loses messages at the high-water mark, counted in ``unsent``). It drains
right after a frame was offered (the tap's ``wake``), at most once per ``period_s``: its work
(a millisecond of copying and JSON, holding the interpreter lock) then falls in the decoder's
idle time before the next frame instead of at a random moment, where a frame arriving during it
would wait for the lock.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import zmq

from rtdecode.errors import ConfigError
from rtdecode.log import get_logger
from rtdecode.view._tap import BehaviorSample, FrameSnapshot, ViewTap

__all__ = ["VIEW_TOPIC", "FeedPublisher", "ViewBatch", "parse_view"]

_log = get_logger(__name__)

VIEW_TOPIC = b"view"
_FRAME_COLUMNS = ("seq", "t", "uncertain", "head", "skipped", "latency_us", "target")


@dataclass
class ViewBatch:
    """One parsed view message (see the module notes)."""

    stream: int
    frames: dict[str, np.ndarray]
    probs: np.ndarray  # (k, S)
    features: np.ndarray  # (k, n, F)
    valid: np.ndarray  # (k, n) bool
    behavior: list[list[float]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] | None = None
    health: dict[str, Any] | None = None
    tap: dict[str, int] | None = None
    stopped: dict[str, Any] | None = None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _event_json(event: Any) -> dict[str, Any]:
    body = asdict(event)
    for key in ("t", "latency_us"):
        body[key] = _finite(float(body[key]))
    return body


def _encode(stream: int, frames: list[FrameSnapshot], extra: dict[str, Any]) -> list[bytes]:
    """One message for ``frames`` (all of one shape) and the rest in ``extra``."""
    header: dict[str, Any] = {"v": 1, "stream": stream, **extra}
    if frames:
        header["shape"] = list((len(frames), *frames[0].features.shape))
        header["frames"] = {name: [getattr(f, name) for f in frames] for name in _FRAME_COLUMNS}
        header["frames"]["probs"] = [f.probs.tolist() for f in frames]
        features = np.stack([f.features for f in frames]).astype(np.float32, copy=False)
        valid = np.stack([f.valid for f in frames]).astype(np.uint8)
    else:
        header["shape"] = [0, 0, 0]
        features, valid = np.zeros(0, np.float32), np.zeros(0, np.uint8)
    body = json.dumps(header, allow_nan=False, default=_default).encode()
    return [VIEW_TOPIC, body, features.tobytes(), valid.tobytes()]


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return None
    raise TypeError(f"{type(value).__name__} is not JSON")


def _clean(value: Any) -> Any:
    """JSON-ready copy: NaN and infinity become None (summaries carry them)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float | np.floating):
        return _finite(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def parse_view(parts: Sequence[bytes]) -> ViewBatch:
    """Parse a ``[b"view", ...]`` message (raises ``ValueError`` for anything else)."""
    if len(parts) != 4 or bytes(parts[0]) != VIEW_TOPIC:
        raise ValueError("a view message is [b'view', header, features, valid]")
    header = json.loads(bytes(parts[1]))
    if header.get("v") != 1:
        raise ValueError(f"view message version {header.get('v')!r}; this speaks 1")
    k, n, f = header["shape"]
    features = np.frombuffer(parts[2], np.float32).reshape(k, n, f)
    valid = np.frombuffer(parts[3], np.uint8).reshape(k, n).astype(bool)
    columns = header.get("frames", {})
    frames = {name: np.asarray(columns.get(name, []), float) for name in _FRAME_COLUMNS}
    probs = np.asarray(columns.get("probs", []), np.float32).reshape(k, -1 if k else 0)
    return ViewBatch(
        stream=int(header["stream"]),
        frames=frames,
        probs=probs,
        features=features,
        valid=valid,
        behavior=header.get("behavior", []),
        events=header.get("events", []),
        context=header.get("context"),
        health=header.get("health"),
        tap=header.get("tap"),
        stopped=header.get("stopped"),
    )


class FeedPublisher:
    """Drains the taps every ``period_s`` on a thread and publishes view messages.

    Parameters
    ----------
    taps
        One tap per stream (the stream's index in the message is its position here).
    endpoint
        Where to bind the PUB socket (default: a free loopback TCP port, see :attr:`endpoint`).
    period_s
        Seconds between drains (20 per second by default: the page updates 10 times a second).
    health_every_s, context_every_s
        Seconds between the decoder's counters, and between repeats of each stream's context.
    """

    def __init__(
        self,
        taps: Sequence[ViewTap],
        endpoint: str = "tcp://127.0.0.1:*",
        period_s: float = 0.05,
        health_every_s: float = 1.0,
        context_every_s: float = 1.0,
    ) -> None:
        self.period_s = period_s
        self.health_every_s = health_every_s
        self.context_every_s = context_every_s
        self._context: zmq.Context[Any] = zmq.Context.instance()
        self._socket = self._context.socket(zmq.PUB)
        self._socket.setsockopt(zmq.SNDHWM, 200)
        self._socket.setsockopt(zmq.LINGER, 500)
        try:
            self._socket.bind(endpoint)
        except zmq.ZMQError as exc:
            self._socket.close()
            raise ConfigError(
                f"cannot publish the view feed at {endpoint} ({exc}); choose another address"
            ) from exc
        self.endpoint = self._socket.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.unsent = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtdecode-view-feed", daemon=True)
        self._sent_stopped: list[bool] = []
        self.taps: list[ViewTap] = []
        self.attach(taps)

    def attach(self, taps: Sequence[ViewTap]) -> None:
        """Publish these taps too, as the next streams (before :meth:`start`)."""
        for tap in taps:
            tap.wake = self._wake
            self.taps.append(tap)
            self._sent_stopped.append(False)

    def start(self) -> None:
        """Start the publishing thread."""
        self._thread.start()

    def close(self) -> None:
        """Publish what is left (with every stopped stream's summary), then stop and close."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        self._socket.close()

    def _run(self) -> None:
        next_health = next_context = 0.0
        while True:
            # Rest out the period, then drain as soon as a frame is offered (or a period has
            # passed without one: events, behaviour and health still go out).
            self._stop.wait(self.period_s)
            self._wake.clear()
            if not self._stop.is_set():  # close() sets the stop before the wake: never lost
                self._wake.wait(self.period_s)
            stopping = self._stop.is_set()
            now = time.monotonic()
            health, context = now >= next_health, now >= next_context
            for index, tap in enumerate(self.taps):
                try:
                    self._publish(index, tap, health, context)
                except Exception:  # the view must never take the decoder down
                    _log.exception("view feed: stream %d could not be published", index)
            if health:
                next_health = now + self.health_every_s
            if context:
                next_context = now + self.context_every_s
            if stopping:
                return

    def _publish(self, index: int, tap: ViewTap, health: bool, context: bool) -> None:
        frames: list[FrameSnapshot] = []
        extra: dict[str, Any] = {"behavior": [], "events": []}
        for item in tap.drain():
            if isinstance(item, FrameSnapshot):
                if frames and frames[-1].features.shape != item.features.shape:
                    self._send(_encode(index, frames, {}))  # a new layout: its own message
                    frames = []
                frames.append(item)
            elif isinstance(item, BehaviorSample):
                extra["behavior"].append([item.seq, _finite(item.t), *map(_finite, item[2:])])
            else:
                extra["events"].append(_event_json(item))
        if context:
            extra["context"] = tap.context.to_json()
        if health and tap.health is not None:
            extra["health"] = _clean(tap.health())
        extra["tap"] = {"offered": tap.offered, "dropped": tap.dropped, "unsent": self.unsent}
        if tap.summary is not None and not self._sent_stopped[index]:
            extra["stopped"] = _clean(tap.summary)
            extra["context"] = tap.context.to_json()
            self._sent_stopped[index] = True
        self._send(_encode(index, frames, extra))

    def _send(self, message: list[bytes]) -> None:
        try:
            self._socket.send_multipart(message, zmq.NOBLOCK)
        except zmq.Again:
            self.unsent += 1
