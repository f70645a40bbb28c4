"""What the page shows for one stream, kept in fixed memory and updated as the feed arrives.

Fed by view messages (the decoder's tap), by prediction and trigger messages (``--connect`` to
a decoder's outputs) or by a session file (its recorded activity shown at the slider's time,
:meth:`StreamState.seek`). Decimation: at most ``points_per_batch`` frames of a
batch go into the traces (the newest of each stride), so a 1,000 frames/s stream costs the page
what a 100 frames/s one does; every frame still reaches the edge module's window, and trigger
events are never decimated.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from rtdecode.log import get_logger
from rtdecode.timeline import decision_codes, decision_runs, reversal_intervals, target_index
from rtdecode.view._feed import ViewBatch
from rtdecode.view._manifold import IncrementalPCA
from rtdecode.view._ring import ColumnRing
from rtdecode.view._tap import StreamContext

__all__ = ["StreamState"]

_log = get_logger(__name__)

TRACE_COLUMNS = ("t", "p", "decision", "latency_us", "target", "seq")
BEHAVIOR_COLUMNS = ("t", "velocity", "reversal")


class Recorded(Protocol):
    """A finished session's activity (:class:`~rtdecode.view._recorded.RecordedActivity`)."""

    def show(self, state: StreamState, t: float, span_s: float) -> bool:
        """Put the activity at page time ``t`` into ``state``; False when nothing changed."""


class StreamState:
    """Fixed-size history of one stream.

    Parameters
    ----------
    index
        The stream's position (its tab).
    history
        Trace points kept (the scrolling window).
    raster_columns
        Activity columns kept for the raster.
    points_per_batch
        Most frames of one feed batch shown in the traces.
    edges
        Compute the inferred graph (needs the model; off for ``--connect`` feeds).
    """

    def __init__(
        self,
        index: int,
        history: int = 3000,
        raster_columns: int = 240,
        points_per_batch: int = 5,
        edges: bool = True,
    ) -> None:
        self.index = index
        self.context: StreamContext | None = None
        self.trace = ColumnRing(TRACE_COLUMNS, history)
        self.behavior = ColumnRing(BEHAVIOR_COLUMNS, history)
        self.events: deque[dict[str, Any]] = deque(maxlen=2000)
        self.events_total = 0
        self.points_per_batch = points_per_batch
        self.raster_columns = raster_columns
        self.raster: np.ndarray | None = None  # (n, columns), rolling
        self.raster_t = np.full(raster_columns, np.nan)
        self.raster_total = 0
        self.latencies: deque[float] = deque(maxlen=2000)
        self.health: dict[str, Any] = {}
        self.tap: dict[str, int] = {}
        self.stopped: dict[str, Any] | None = None
        self.head = 0
        self.frames_seen = 0
        self.pca: IncrementalPCA | None = None
        self.manifold_rows: deque[tuple[np.ndarray, int, float]] = deque(maxlen=400)
        self.want_edges = edges
        self.edge_module: Any = None
        self.edge_error = "" if edges else "not available from a decoder's ZeroMQ outputs"
        self.window: np.ndarray | None = None  # (W, n, F) ring of the newest rows
        self.window_valid: np.ndarray | None = None
        self.window_t = np.zeros(0)
        self.window_fill = 0
        self.window_version = 0  # bumped whenever the window changes
        self._edges_asked = -1  # the window version of the last edge job
        self.layout_id = -1  # bumped with each neuron layout
        self.recorded: Recorded | None = None  # a session file's activity
        self.edges: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.role: np.ndarray | None = None
        self.t0: float | None = None  # frame time shown as 0 (the first one seen)
        self.version = 0  # bumped whenever anything the slow panels show changes
        self._rate: deque[tuple[float, int]] = deque(maxlen=40)

    # ----------------------------------------------------------------- intake
    @property
    def name(self) -> str:
        """The tab title."""
        return self.context.name if self.context is not None else f"stream {self.index + 1}"

    @property
    def reversal_index(self) -> int:
        """Index of the state whose probability is drawn (:func:`rtdecode.timeline.target_index`:
        the policy's target, else ``reversal``; 1 when the states are not known yet)."""
        if self.context is None:
            return 1
        return target_index(self.context.states, self.context.trigger)

    def ingest(self, batch: ViewBatch) -> None:
        """Take one view message."""
        if batch.context is not None:
            self.context = StreamContext.from_json(batch.context)
        if batch.health is not None:
            self.health = batch.health
        if batch.tap is not None:
            self.tap = batch.tap
        if batch.stopped is not None:
            self.stopped = batch.stopped
            self.version += 1
        for _seq, t, velocity, reversal in batch.behavior:
            self.add_behavior(t, velocity, reversal)
        for event in batch.events:
            self.add_event(event)
        k = len(batch.probs)
        if not k:
            return
        self._new_layout_if_needed(batch.features.shape[1], batch.features.shape[2])
        frames = batch.frames
        stride = max(1, math.ceil(k / self.points_per_batch))
        for i in range(k):
            self._window_push(batch.features[i], batch.valid[i], float(frames["t"][i]))
            self.latencies.append(float(frames["latency_us"][i]))
            if (k - 1 - i) % stride:
                continue
            p = float(batch.probs[i, self.reversal_index])
            best = np.argmax(batch.probs[i])
            decision = int(decision_codes(best, frames["uncertain"][i], self.reversal_index))
            self.add_point(
                float(frames["seq"][i]),
                float(frames["t"][i]),
                p,
                decision,
                float(frames["latency_us"][i]),
                float(frames["target"][i]),
            )
            self._activity(batch.features[i, :, 0], decision, float(frames["t"][i]))
        self.head = int(frames["head"][-1])
        self._count(k)

    def rel(self, t: float | None) -> float:
        """Frame time ``t`` on the page's axis: seconds since the first frame seen."""
        if t is None or not math.isfinite(t):
            return np.nan
        if self.t0 is None:
            self.t0 = t
        return t - self.t0

    def add_point(
        self, seq: float, t: float, p: float, decision: int, latency_us: float, target: float
    ) -> None:
        """One point of the probability trace and the decision ribbon."""
        self.trace.append(
            {
                "t": self.rel(t),
                "p": p,
                "decision": decision,
                "latency_us": latency_us,
                "target": target if target >= 0 else np.nan,
                "seq": seq,
            }
        )

    def add_behavior(self, t: float | None, velocity: float | None, reversal: float | None) -> None:
        """One tracked behaviour sample."""
        nan = np.nan
        self.behavior.append(
            {
                "t": self.rel(t),
                "velocity": nan if velocity is None else velocity,
                "reversal": nan if reversal is None else reversal,
            }
        )

    def add_event(self, event: dict[str, Any]) -> None:
        """One trigger event (never decimated)."""
        t = event.get("t")
        if t is None or not math.isfinite(t):  # watchdog events before any frame: the newest
            event = {**event, "t": self.trace.last("t")}
        else:
            event = {**event, "t": self.rel(t)}
        self.events.append(event)
        self.events_total += 1

    def add_prediction(self, body: dict[str, Any]) -> None:
        """One prediction message of the wire protocol (``--connect``)."""
        if self.context is None:
            self.context = StreamContext(name="decoder", states=tuple(body["probs"]))
        probs = [float(body["probs"][s]) for s in self.context.states]
        best = np.argmax(probs)
        decision = int(decision_codes(best, bool(body.get("uncertain")), self.reversal_index))
        self.add_point(
            float(body["seq"]),
            float(body["t"]),
            probs[self.reversal_index],
            decision,
            float(body.get("latency_us", np.nan)),
            -1.0,
        )
        self.latencies.append(float(body.get("latency_us", np.nan)))
        self.head = int(body.get("head", 0))
        self._count(1)

    def _count(self, frames: int) -> None:
        self.frames_seen += frames
        self._rate.append((time.monotonic(), self.frames_seen))

    @property
    def frames_per_s(self) -> float:
        """Decoded frames per second over the last few seconds."""
        if len(self._rate) < 2 or self._rate[-1][0] - self._rate[0][0] <= 0:
            return 0.0
        (t0, n0), (t1, n1) = self._rate[0], self._rate[-1]
        return (n1 - n0) / (t1 - t0)

    def decision_runs(self) -> dict[str, np.ndarray]:
        """The ribbon among the kept trace points, as runs of one decision (page time; see
        :func:`rtdecode.timeline.decision_runs`, which the report uses too)."""
        held, _ = self.trace.since(max(self.trace.total - self.trace.capacity, 0))
        return decision_runs(held["t"], held["decision"])

    def reversal_spans(self) -> dict[str, np.ndarray]:
        """The kept behaviour's reversals as ``left``/``right`` page times, none before the
        first frame (:func:`rtdecode.timeline.reversal_intervals`, as the report shades them)."""
        held, _ = self.behavior.since(max(self.behavior.total - self.behavior.capacity, 0))
        left, right = reversal_intervals(held["t"], held["reversal"], start=0.0)
        return {"left": left, "right": right}

    # ------------------------------------------------------------ activity
    def _new_layout_if_needed(self, n: int, f: int) -> None:
        if self.raster is not None and self.raster.shape[0] == n:
            return
        self.raster = np.full((n, self.raster_columns), np.nan, np.float32)
        self.raster_t[:] = np.nan
        self.raster_total = 0
        self.pca = IncrementalPCA(n)
        self.manifold_rows.clear()
        w = self.context.window if self.context is not None and self.context.window else 64
        self.window = np.zeros((w, n, f), np.float32)
        self.window_valid = np.zeros((w, n), bool)
        self.window_t = np.zeros(w)
        self.window_fill = 0
        self.window_version += 1
        self.layout_id += 1
        self.edge_module = None
        self.edges = self.role = None
        self.version += 1

    def _window_push(self, row: np.ndarray, valid: np.ndarray, t: float) -> None:
        assert self.window is not None and self.window_valid is not None
        k = self.window_fill % len(self.window)
        self.window[k] = row
        self.window_valid[k] = valid
        self.window_t[k] = t
        self.window_fill += 1
        self.window_version += 1

    def set_window(
        self, features: np.ndarray | None, valid: np.ndarray | None, t: np.ndarray | None
    ) -> None:
        """Replace the window by these ``(W, n, F)`` rows, oldest first (``None``: no full
        window, and no graph)."""
        if features is None or valid is None or t is None:
            self.window, self.window_valid, self.window_fill = None, None, 0
            self.edges = self.role = None
        else:
            self.window, self.window_valid, self.window_t = features, valid, np.asarray(t)
            self.window_fill = len(features)
        self.window_version += 1

    def seek(self, t: float, span_s: float = 120.0) -> None:
        """Show a finished session's activity, graph and manifold at page time ``t``, the
        raster over the ``span_s`` seconds before it (see :mod:`rtdecode.view._recorded`)."""
        if self.recorded is not None and self.recorded.show(self, t, span_s):
            self.version += 1

    def _activity(self, row: np.ndarray, decision: int, t: float) -> None:
        assert self.raster is not None and self.pca is not None
        k = self.raster_total % self.raster_columns
        self.raster[:, k] = row
        self.raster_t[k] = self.rel(t)
        self.raster_total += 1
        self.pca.update(row)
        self.manifold_rows.append((row.astype(np.float64), decision, t))

    def raster_image(self) -> tuple[np.ndarray, float, float] | None:
        """``(n, columns)`` activity in time order, its first and last time; ``None`` if empty."""
        if self.raster is None or not self.raster_total:
            return None
        count = min(self.raster_total, self.raster_columns)
        index = np.arange(self.raster_total - count, self.raster_total) % self.raster_columns
        image = self.raster[:, index][self.neuron_order()]
        return image, float(self.raster_t[index[0]]), float(self.raster_t[index[-1]])

    def neuron_order(self) -> np.ndarray:
        """Raster rows: by identity when labels exist, else by the model's role score."""
        assert self.raster is not None
        n = self.raster.shape[0]
        labels = self.context.labels if self.context is not None else None
        if labels is not None and any(lab for lab in labels):
            return np.array(sorted(range(n), key=lambda i: (labels[i] is None, labels[i] or "")))
        if self.role is not None and len(self.role) == n:
            return np.argsort(-self.role)
        return np.arange(n)

    def manifold(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Refit the components and project the recent rows: ``(points, decisions, t)``."""
        if self.pca is None or not self.manifold_rows or not self.pca.refit():
            return None
        rows = np.stack([r for r, _, _ in self.manifold_rows])
        decisions = np.array([d for _, d, _ in self.manifold_rows])
        times = np.array([t for _, _, t in self.manifold_rows])
        return self.pca.project(rows), decisions, times

    # --------------------------------------------------------------- edges
    def edge_job(self, top: int = 40) -> Callable[[], None] | None:
        """The edge module's next run on a copy of the newest window (``None``: nothing to do).

        Call it on the loop that feeds the state; run what it returns on a worker thread (it
        loads the model the first time, then takes milliseconds), at a low rate.
        """
        if not self.want_edges or self.window is None or self.window_fill < len(self.window):
            return None
        if self.window_version == self._edges_asked:
            return None  # the graph of this window is shown (or on its way)
        self._edges_asked = self.window_version
        assert self.window_valid is not None
        start = self.window_fill % len(self.window)
        order = np.r_[start : len(self.window), 0:start]
        window, valid = self.window[order], self.window_valid[order]
        steps = np.diff(self.window_t[order])
        layout, layout_id, module = self.window, self.layout_id, self.edge_module

        def run() -> None:
            from rtdecode.view._edges import top_edges

            nonlocal module
            if module is None:
                module = self._edge_module(window.shape[1], steps)
                if module is None:
                    return
                if self.layout_id == layout_id:
                    self.edge_module = module
            weights, role = module(window, valid)
            if self.window is layout:  # no new layout meanwhile
                self.edges, self.role = top_edges(weights, top), role
                self.version += 1

        return run

    def _edge_module(self, n: int, steps: np.ndarray) -> Any:
        from rtdecode.view._edges import EdgeModule

        ctx = self.context
        interval = ctx.frame_interval_s if ctx and ctx.frame_interval_s else None
        if interval is None and len(steps) and float(np.median(steps)) > 0:
            interval = float(np.median(steps))  # as the engine measures it
        try:
            module = EdgeModule(
                ctx.model if ctx else None,
                len(steps) + 1,
                n,
                ctx.labels if ctx else None,
                interval,
            )
        except Exception as exc:  # a model the view cannot load: say so on the page
            self.want_edges, self.edge_error = False, f"edge module unavailable: {exc}"
            _log.warning("view: %s", self.edge_error)
            return None
        if not module.available:
            self.want_edges, self.edge_error = False, module.reason
            return None
        return module
