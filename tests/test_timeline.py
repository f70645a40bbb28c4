"""One session, drawn by ``rtdecode report`` and by ``rtdecode view SESSION.h5``: a person who
reads both sees the same marks for the same trigger events, the same decision runs and the same
tracked reversals (both draw with :mod:`rtdecode.timeline`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from trigger_support import STATES

from rtdecode.policy import SUPPRESS_REASONS, TriggerEvent
from rtdecode.stream import FrameTiming, Prediction, SessionFile
from rtdecode.timeline import MATPLOTLIB_SHAPES, REVERSAL_COLOR, event_mark

POLICY = {"on": 0.6, "off": 0.4, "state": "reversal", "abstain": [0.4, 0.6], "pulse_ms": 50.0}
CONTROLLER_REASONS = ("disarmed", "dry_run", "sham", "output_error")
"""Suppression reasons the live controller adds to the policy's."""


def _session(path: Path) -> Path:
    """60 s of predictions from t = 0 (some abstained), behaviour from t = -5 s (reversing at
    first), a suppressed fire of every reason, fires, a sham, arm and a watchdog disarm."""
    session = SessionFile(path, {"policy": json.dumps(POLICY)})
    session.open(STATES)
    rng = np.random.default_rng(7)
    for seq in range(-10, 120):
        t = 0.5 * seq
        reversing = t < -1 or 10 <= t < 14 or 40 <= t < 45
        session.record_behavior(seq + 10, t, -0.1 if reversing else 0.1, float(reversing))
        if seq >= 0:
            p = float(np.clip((0.85 if reversing else 0.15) + rng.normal(0, 0.2), 0, 1))
            prediction = Prediction(
                seq, t, np.array([1 - p, p], np.float32), int(p > 0.5), 0, 0, 0.4 < p < 0.6
            )
            session.record_frame(FrameTiming(seq, t, -1, 0, 1000, 2000, 3000), prediction)
    events = [(0, "arm", "start"), (21, "fire", ""), (30, "sham", ""), (81, "fire", "")]
    events += [(40 + k, "suppressed", r) for k, r in enumerate(SUPPRESS_REASONS)]
    events += [(60 + k, "suppressed", r) for k, r in enumerate(CONTROLLER_REASONS)]
    events += [(100, "disarm", "no_frames"), (110, "arm", "rearm"), (119, "disarm", "stop")]
    for seq, kind, reason in events:
        pulse = 50.0 if kind in ("fire", "sham") else 0.0
        session.record_trigger(TriggerEvent(seq, 0.5 * seq, kind, reason, pulse, 900.0))
    session.close({})
    return path


def _report_axes(path: Path) -> tuple[Any, ...]:
    """The report's probability, ribbon, latency, table and velocity axes for the session."""
    pytest.importorskip("matplotlib")
    from rtdecode.trigger._report import Session, _figure, session_summary

    session = Session.read(path)
    figure = _figure(session, session_summary(session))
    return tuple(figure.axes)


def _view_panel(path: Path) -> Any:
    """The view's panel of the session file, after its first update (what the page gets)."""
    pytest.importorskip("bokeh")
    from rtdecode.view._intake import read_session_states
    from rtdecode.view._panel import StreamPanel

    panel = StreamPanel(read_session_states(path))
    panel.update(slow=True)
    return panel


def _marker_path(code: str) -> np.ndarray:
    from matplotlib.markers import MarkerStyle

    style = MarkerStyle(code)
    return np.asarray(style.get_path().transformed(style.get_transform()).vertices)


@pytest.mark.timeout(120)
def test_the_report_and_the_view_mark_every_event_alike(tmp_path: Path) -> None:
    path = _session(tmp_path / "s.h5")
    axes, *_ = _report_axes(path)
    from matplotlib.colors import to_hex

    handles = dict(zip(*reversed(axes.get_legend_handles_labels()), strict=True))
    view = _view_panel(path).events.data
    shown: dict[str, tuple[str, str, float]] = {}
    for label, shape, colour, y in zip(
        view["kind"], view["shape"], view["color"], view["y"], strict=True
    ):
        shown[label] = (shape, colour, y)
    reasons = (*SUPPRESS_REASONS, *CONTROLLER_REASONS)
    assert {f"suppressed: {r}" for r in reasons} <= set(shown)
    assert "disarm (watchdog)" in shown and "disarm" in shown
    # each reason, and a watchdog disarm, has a mark of its own
    assert len({shown[f"suppressed: {r}"][0] for r in reasons}) == len(reasons)
    assert shown["disarm (watchdog)"][:2] != shown["disarm"][:2]
    for label, (shape, colour, y) in shown.items():
        count = view["kind"].count(label)
        handle = handles[f"{label} ({count})"]  # the report's legend: the same label, counted
        assert np.allclose(handle.get_paths()[0].vertices, _marker_path(MATPLOTLIB_SHAPES[shape]))
        assert to_hex(handle.get_edgecolor()[0]) == colour, label
        assert np.allclose(handle.get_offsets()[:, 1], y), label


@pytest.mark.timeout(120)
def test_the_report_and_the_view_draw_the_same_decisions_and_behaviour(tmp_path: Path) -> None:
    path = _session(tmp_path / "s.h5")
    axes, ribbon, _, _, velocity = _report_axes(path)
    panel = _view_panel(path)
    runs = panel.ribbon_runs.data
    report_runs = sorted(
        (float(x0), float(x0 + width), code)
        for code, bars in enumerate(ribbon.collections)  # one per decision code, in order
        for (x0, width) in (_bar(p) for p in bars.get_paths())
    )
    view_runs = sorted(
        (float(left), float(right), int(code))
        for left, right, code in zip(runs["left"], runs["right"], runs["decision"], strict=True)
    )
    assert len(view_runs) > 3 and {code for *_, code in view_runs} == {0, 1, 2}
    np.testing.assert_allclose(np.array(report_runs), np.array(view_runs))
    # the tracked reversals: the one before the first prediction is not drawn (t < 0)
    from matplotlib.colors import to_hex

    shaded = [p for p in axes.patches if to_hex(p.get_facecolor()) == REVERSAL_COLOR]
    spans = sorted((p.get_x(), p.get_x() + p.get_width()) for p in shaded)
    view_spans = list(zip(panel.reversals.data["left"], panel.reversals.data["right"], strict=True))
    np.testing.assert_allclose(spans, [(10.0, 14.0), (40.0, 45.0)])
    np.testing.assert_allclose(view_spans, spans)
    # the tracked velocity, from the first prediction on
    behaviour = panel.behavior.data
    shown = np.asarray(behaviour["t"]) >= 0
    t, v = velocity.lines[0].get_data()
    np.testing.assert_allclose(t, np.asarray(behaviour["t"])[shown])
    np.testing.assert_allclose(v, np.asarray(behaviour["velocity"])[shown])
    assert {-0.1, 0.1} <= set(np.round(v, 6))


def _bar(path: Any) -> tuple[float, float]:
    """A ribbon bar's left edge and width."""
    xs = path.vertices[:, 0]
    return float(xs.min()), float(xs.max() - xs.min())


def test_each_event_kind_and_reason_has_a_mark_both_libraries_draw() -> None:
    reasons = (*SUPPRESS_REASONS, *CONTROLLER_REASONS)
    marks = [event_mark("suppressed", r) for r in reasons]
    marks += [event_mark(k) for k in ("fire", "sham", "off", "arm", "disarm")]
    marks.append(event_mark("disarm", "latency"))
    assert len({(m.shape, m.color, m.y) for m in marks}) == len(marks)
    assert all(m.shape in MATPLOTLIB_SHAPES for m in marks)
    unknown = event_mark("suppressed", "new_reason")
    assert unknown.label == "suppressed: new_reason" and unknown.shape in MATPLOTLIB_SHAPES


def _loads(module: str, library: str) -> bool:
    probe = f"import sys, {module}\nprint({library!r} in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=100, check=True
    )
    return result.stdout.split() == ["True"]


@pytest.mark.timeout(240)
def test_the_report_needs_no_bokeh_and_the_view_no_matplotlib() -> None:
    """Each keeps to its own extra (``plot``, ``view``): the shared vocabulary draws nothing."""
    assert not _loads("rtdecode.trigger._report", "bokeh")
    assert not _loads("rtdecode.timeline", "matplotlib")
    pytest.importorskip("bokeh")
    assert not _loads("rtdecode.view._panel", "matplotlib")
