"""One stream's panels on the page (Bokeh models), and how they follow a :class:`StreamState`.

What the probability panel and the ribbon show, and how each trigger event is marked, comes from
:mod:`rtdecode.timeline`, the vocabulary ``rtdecode report`` draws with too.

Fast parts (the probability trace, the ribbon, the event marks, the counters) are streamed to
the browser at every page update; the slow ones (raster, graph, manifold, histogram) are
replaced at most every ``slow_every`` updates and only when the state changed.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    BoxAnnotation,
    ColumnDataSource,
    DataRange1d,
    Div,
    HoverTool,
    LinearAxis,
    LinearColorMapper,
    Range1d,
    Span,
)
from bokeh.palettes import Viridis256
from bokeh.plotting import figure
from bokeh.transform import linear_cmap

from rtdecode.timeline import (
    DECISION_COLORS,
    GUIDE_COLOR,
    PROBABILITY_RANGE,
    REVERSAL_COLOR,
    VELOCITY_COLOR,
    event_mark,
    guides,
)
from rtdecode.view._state import StreamState

__all__ = ["StreamPanel"]


def _events_data(events: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The event marks' columns: each event's :func:`rtdecode.timeline.event_mark` (``marker``
    its key, ``kind`` its label, ``shape``, ``color``, ``y``) with its time, reason and pulse."""
    marks = [event_mark(str(e.get("kind", "")), str(e.get("reason") or "")) for e in events]
    return {
        "t": [e.get("t") if e.get("t") is not None else math.nan for e in events],
        "seq": [int(e.get("seq", -1)) for e in events],
        "y": [m.y for m in marks],
        "kind": [m.label for m in marks],
        "marker": [m.key for m in marks],
        "shape": [m.shape for m in marks],
        "color": [m.color for m in marks],
        "reason": [str(e.get("reason") or "") for e in events],
        "pulse_ms": [float(e.get("pulse_ms") or 0.0) for e in events],
    }


def _set_text(div: Any, text: str) -> None:
    if div.text != text:
        div.text = text


class StreamPanel:
    """The panels of one stream tab for one browser session.

    Parameters
    ----------
    state
        The stream's state (shared by every session; read only here).
    history_s
        Seconds of frame time the traces show (they scroll).
    """

    def __init__(self, state: StreamState, history_s: float = 120.0) -> None:
        self.state = state
        self._cursor = self._behavior_cursor = self._events_seen = 0
        self._version = -1
        self.status = Div(text="", name=f"status-{state.index}", styles={"font-size": "15px"})
        self.counters = Div(text="", name=f"counters-{state.index}")
        self.trace = ColumnDataSource(
            {name: [] for name in state.trace.columns}, name=f"trace-{state.index}"
        )
        self.behavior = ColumnDataSource({name: [] for name in state.behavior.columns})
        self.reversals = ColumnDataSource(
            {"left": [], "right": []}, name=f"reversals-{state.index}"
        )
        self.events = ColumnDataSource(_events_data([]), name=f"events-{state.index}")
        self.ribbon_runs = ColumnDataSource(
            {"left": [], "right": [], "decision": []}, name=f"ribbon-{state.index}"
        )
        self.x_range = DataRange1d(
            follow="end", follow_interval=history_s, range_padding=0.0, name=f"x-{state.index}"
        )
        # The raster follows the traces' window at the slow panels' rate, not at every update:
        # on a range of its own, the browser redraws it only when its image changes.
        self.raster_x = Range1d(0.0, history_s, name=f"raster-x-{state.index}")
        self.probability = self._probability_figure()
        self.ribbon = self._ribbon_figure()
        self.raster_source = ColumnDataSource(
            {"image": [], "x": [], "dw": [], "dh": []}, name=f"raster-{state.index}"
        )
        self.graph_nodes = ColumnDataSource({"x": [], "y": [], "label": [], "role": []})
        self.graph_edges = ColumnDataSource(
            {"x0": [], "y0": [], "x1": [], "y1": [], "w": []}, name=f"graph-{state.index}"
        )
        self.manifold_source = ColumnDataSource(
            {"pc1": [], "pc2": [], "decision": [], "t": []}, name=f"manifold-{state.index}"
        )
        self.histogram = ColumnDataSource({"left": [], "right": [], "count": []})
        self.graph_note = Div(text="")
        self.dose = Div(text="")
        self.layout = self._layout()

    # ---------------------------------------------------------------- figures
    def _probability_figure(self) -> Any:
        fig = figure(
            height=320,  # its legend holds every mark of a busy session
            sizing_mode="stretch_width",
            x_range=self.x_range,
            y_range=Range1d(*PROBABILITY_RANGE),
            title="reversal probability, behaviour and triggers",
            tools="xpan,xwheel_zoom,reset",
            toolbar_location="above",
        )
        fig.yaxis.axis_label = "P(reversal)"
        fig.xaxis.axis_label = "time since the first frame (s)"
        self._band_and_threshold(fig)
        fig.extra_y_ranges = {"velocity": DataRange1d()}
        fig.add_layout(LinearAxis(y_range_name="velocity", axis_label="velocity (mm/s)"), "right")
        fig.quad(
            left="left",
            right="right",
            bottom=PROBABILITY_RANGE[0],
            top=PROBABILITY_RANGE[1],
            source=self.reversals,
            fill_alpha=0.15,
            fill_color=REVERSAL_COLOR,
            line_alpha=0,
            legend_label="reversing (tracked)",
        )
        fig.line(
            x="t",
            y="velocity",
            source=self.behavior,
            y_range_name="velocity",
            color=VELOCITY_COLOR,
            alpha=0.7,
            legend_label="velocity",
        )
        fig.line(
            x="t",
            y="p",
            source=self.trace,
            color="black",
            line_width=1.6,
            legend_label="P(reversal)",
        )
        marks = fig.scatter(
            x="t",
            y="y",
            source=self.events,
            size=11,
            line_width=2,
            marker="shape",
            color="color",
            legend_field="kind",
        )
        fig.add_tools(
            HoverTool(
                renderers=[marks],
                tooltips=[
                    ("event", "@kind"),
                    ("reason", "@reason"),
                    ("pulse", "@pulse_ms ms"),
                    ("t", "@t{0.0}"),
                ],
            )
        )
        legend = fig.legend[0]
        legend.label_text_font_size = "9pt"
        # compact: one entry per suppression reason and the watchdog's disarm fit the height
        legend.glyph_height = legend.label_height = 13
        legend.spacing, legend.padding, legend.margin = 0, 4, 4
        fig.add_layout(legend, "right")
        return fig

    def _band_and_threshold(self, fig: Any) -> None:
        """The abstain band (grey box) and the policy's thresholds, when there are
        (:func:`rtdecode.timeline.guides`)."""
        ctx = self.state.context
        shown = guides(ctx.trigger, ctx.abstain) if ctx is not None else guides(None)
        if shown.band:
            lo, hi = shown.band
            fig.add_layout(
                BoxAnnotation(bottom=lo, top=hi, fill_alpha=0.12, fill_color=GUIDE_COLOR)
            )
        for value, _label, dash in shown.lines:
            fig.add_layout(
                Span(
                    location=value,
                    dimension="width",
                    line_dash=dash,
                    line_color=GUIDE_COLOR,
                    line_width=1,
                )
            )

    def _ribbon_figure(self) -> Any:
        fig = figure(
            height=70,
            sizing_mode="stretch_width",
            x_range=self.x_range,
            y_range=Range1d(0, 1),
            tools="",
            toolbar_location=None,
            title="decision: forward (blue) / reversal (red) / uncertain (grey)",
        )
        fig.yaxis.visible = False
        fig.quad(
            left="left",
            right="right",
            bottom=0,
            top=1,
            source=self.ribbon_runs,
            line_alpha=0,
            color=linear_cmap("decision", list(DECISION_COLORS), 0, 2),
        )
        return fig

    def _raster_figure(self) -> Any:
        fig = figure(
            height=260,
            sizing_mode="stretch_width",
            tools="",
            toolbar_location=None,
            x_range=self.raster_x,
            title="activity (preprocessed, neurons x time)",
        )
        mapper = LinearColorMapper(palette=Viridis256, low=-2.5, high=2.5)
        fig.image(
            image="image",
            x="x",
            y=0,
            dw="dw",
            dh="dh",
            source=self.raster_source,
            color_mapper=mapper,
        )
        fig.xaxis.axis_label = "time since the first frame (s)"
        fig.yaxis.axis_label = "neuron"
        return fig

    def _graph_figure(self) -> Any:
        fig = figure(
            height=300,
            width=320,
            tools="hover",
            toolbar_location=None,
            title="inferred graph (model edge weights, top edges)",
            x_range=Range1d(-1.3, 1.3),
            y_range=Range1d(-1.3, 1.3),
            tooltips=[("neuron", "@label"), ("role", "@role{0.00}")],
        )
        fig.axis.visible = False
        fig.grid.visible = False
        fig.segment(
            x0="x0",
            y0="y0",
            x1="x1",
            y1="y1",
            source=self.graph_edges,
            line_width="w",
            line_alpha=0.6,
            color="#444444",
        )
        fig.scatter(
            x="x",
            y="y",
            source=self.graph_nodes,
            size=9,
            color=linear_cmap("role", ["#1f77b4", "#dddddd", "#d62728"], -1, 1),
        )
        fig.text(
            x="x",
            y="y",
            text="label",
            source=self.graph_nodes,
            text_font_size="8pt",
            x_offset=5,
            y_offset=-5,
        )
        return fig

    def _manifold_figure(self) -> Any:
        fig = figure(
            height=300,
            width=320,
            tools="",
            toolbar_location=None,
            title="manifold (PC1 x PC2, fitted causally)",
        )
        fig.line(x="pc1", y="pc2", source=self.manifold_source, color="#cccccc")
        fig.scatter(
            x="pc1",
            y="pc2",
            source=self.manifold_source,
            size=4,
            color=linear_cmap("decision", list(DECISION_COLORS), 0, 2),
        )
        return fig

    def _histogram_figure(self) -> Any:
        fig = figure(
            height=220,
            width=320,
            tools="",
            toolbar_location=None,
            title="decoder latency (received -> published)",
        )
        fig.quad(
            left="left",
            right="right",
            top="count",
            bottom=0,
            source=self.histogram,
            color="#1f77b4",
            alpha=0.7,
        )
        fig.xaxis.axis_label = "µs"
        return fig

    def _layout(self) -> Any:
        graph = column(self._graph_figure(), self.graph_note)
        health = column(self.counters, self._histogram_figure(), self.dose)
        return column(
            self.status,
            self.probability,
            self.ribbon,
            row(self._raster_figure(), sizing_mode="stretch_width"),
            row(graph, self._manifold_figure(), health),
            sizing_mode="stretch_width",
        )

    # ---------------------------------------------------------------- updates
    def update(self, slow: bool) -> None:
        """Stream what is new to this session; refresh the slow panels when ``slow``."""
        state = self.state
        new, reset = state.trace.since(self._cursor)
        if reset:
            self.trace.data = {k: v for k, v in new.items()}
        elif len(new["t"]):
            self.trace.stream({k: v for k, v in new.items()}, rollover=state.trace.capacity)
        if reset or len(new["t"]):
            self.ribbon_runs.data = state.decision_runs()
        self._cursor = state.trace.total
        new, reset = state.behavior.since(self._behavior_cursor)
        if reset:
            self.behavior.data = {k: v for k, v in new.items()}
        elif len(new["t"]):
            self.behavior.stream({k: v for k, v in new.items()}, rollover=state.behavior.capacity)
        if reset or len(new["t"]):
            self.reversals.data = state.reversal_spans()
        self._behavior_cursor = state.behavior.total
        if state.events_total != self._events_seen:
            self.events.data = _events_data(list(state.events))
            self._events_seen = state.events_total
            _set_text(self.dose, self._dose_html())
        # Text changes re-run the page's layout in the browser: only when they change, and the
        # counters (which change with every frame) at the slow panels' rate.
        _set_text(self.status, self._status_html())
        if slow:
            _set_text(self.counters, self._counters_html())
            self._update_slow()

    def _update_slow(self) -> None:
        state = self.state
        latencies = np.array([v for v in state.latencies if math.isfinite(v)])
        if len(latencies):
            counts, edges = np.histogram(latencies, bins=30)
            self.histogram.data = {"left": edges[:-1], "right": edges[1:], "count": counts}
        raster = state.raster_image()
        if raster is not None:
            image, t0, t1 = raster
            self.raster_source.data = {
                "image": [image],
                "x": [t0],
                "dw": [max(t1 - t0, 1e-3)],
                "dh": [image.shape[0]],
            }
            if self.x_range.follow is not None:  # live: the traces' window, ending now
                end = max(t1, state.trace.last("t"))
                self.raster_x.start, self.raster_x.end = end - self.x_range.follow_interval, end
        manifold = state.manifold()
        if manifold is not None:
            points, decisions, times = manifold
            self.manifold_source.data = {
                "pc1": points[:, 0],
                "pc2": points[:, 1],
                "decision": decisions,
                "t": times,
            }
        if state.version != self._version:
            self._version = state.version
            self._update_graph()

    def _update_graph(self) -> None:
        state = self.state
        if state.edges is None:
            self.graph_note.text = html.escape(state.edge_error or "waiting for a full window")
            if len(self.graph_edges.data["x0"]):  # a session's slider moved before a full window
                self.graph_nodes.data = {"x": [], "y": [], "label": [], "role": []}
                self.graph_edges.data = {"x0": [], "y0": [], "x1": [], "y1": [], "w": []}
            return
        targets, sources, weights = state.edges
        nodes = np.unique(np.r_[targets, sources])
        angle = np.linspace(0, 2 * np.pi, len(nodes), endpoint=False)
        where = {int(k): (math.cos(a), math.sin(a)) for k, a in zip(nodes, angle, strict=True)}
        labels = state.context.labels if state.context is not None else None
        role = state.role if state.role is not None else np.zeros(max(nodes, default=0) + 1)
        self.graph_nodes.data = {
            "x": [where[int(k)][0] for k in nodes],
            "y": [where[int(k)][1] for k in nodes],
            "label": [(labels[k] if labels and labels[k] else f"#{k}") for k in nodes],
            "role": [float(np.tanh(role[k])) for k in nodes],
        }
        top = float(weights.max()) if len(weights) else 1.0
        self.graph_edges.data = {
            "x0": [where[int(s)][0] for s in sources],
            "y0": [where[int(s)][1] for s in sources],
            "x1": [where[int(t)][0] for t in targets],
            "y1": [where[int(t)][1] for t in targets],
            "w": list(0.5 + 4.0 * weights / top),
        }
        self.graph_note.text = f"{len(weights)} strongest of {len(role)}² edges, last window"

    # ------------------------------------------------------------------- text
    def _status_html(self) -> str:
        state = self.state
        if state.stopped is not None:
            s = state.stopped
            lat = (s.get("latency_us") or {}).get("total") or {}
            return (
                f"<b style='color:#d62728'>stopped</b> — {html.escape(state.name)}: "
                f"{s.get('frames', 0)} frames, {s.get('predictions', 0)} predictions, "
                f"{s.get('skipped', 0)} skipped, {s.get('malformed_total', 0)} malformed, "
                f"{s.get('duration_s', 0)} s, decoder-added p50 {lat.get('p50')} µs, "
                f"p99 {lat.get('p99')} µs"
            )
        live = "live" if state.frames_seen else "waiting for frames"
        return f"<b style='color:#2ca02c'>{live}</b> — {html.escape(state.name)}"

    def _counters_html(self) -> str:
        state = self.state
        h = state.health
        recent = np.array([v for v in state.latencies if math.isfinite(v)])
        p50, p99 = np.percentile(recent, (50, 99)).round(1) if len(recent) else ("–", "–")
        head = "calibrated head (this animal)" if state.head else "shipped model"
        drops = (h.get("missing_frames") or 0) + int(state.tap.get("dropped", 0))
        return (
            f"<b>frames</b> <span class='frames'>{h.get('frames', state.frames_seen)}</span> · "
            f"{state.frames_per_s:.1f} decoded/s<br>"
            f"drops {drops} (lost on the way {h.get('missing_frames', '–')}, view tap "
            f"{state.tap.get('dropped', 0)}) · skipped {h.get('skipped', '–')} · malformed "
            f"{h.get('malformed_total', '–')}<br>decoder-added latency, last {len(recent)} "
            f"frames: p50 {p50} µs · p99 {p99} µs<br>decoding: {head}"
        )

    def _dose_html(self) -> str:
        state = self.state
        fires = [e for e in state.events if e.get("kind") in ("fire", "sham")]
        light_s = sum(float(e.get("pulse_ms") or 0.0) for e in fires) / 1e3
        policy = state.context.trigger if state.context is not None else {}
        cap_n, cap_s = policy.get("max_pulses"), policy.get("max_light_s")
        return (
            f"<b>dose</b> {len(fires)} pulses"
            + (f" of {cap_n}" if cap_n else "")
            + f" · {light_s:.2f} s light"
            + (f" of {cap_s} s" if cap_s else "")
        )
