"""``rtdecode report``: one session file as a timeline a person reads in seconds, and a table.

Timeline: the probability driving the trigger with the policy's abstain band and thresholds,
behaviour when known (shaded reversals, velocity), every fire, sham, suppressed trigger and
arm/disarm, the decision ribbon, and latency over time. What these are and how each is marked
comes from :mod:`rtdecode.timeline`, which the live view (``rtdecode view``) draws with too.
Table: pulses, suppressed by reason, arm/disarm by reason, trigger latency percentiles and,
with behaviour, onsets caught and false triggers per minute
(:func:`rtdecode.events.score_fires`, the same scoring as ``rtdecode eval``, from the end of
the session's self-calibration period on, or its first prediction without one).
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode._optional import import_optional
from rtdecode.errors import ConfigError, DataFormatError
from rtdecode.events import describe, score_fires
from rtdecode.latency import percentiles
from rtdecode.stream import read_session
from rtdecode.timeline import (
    DECISION_COLORS,
    DECISIONS,
    GUIDE_COLOR,
    MATPLOTLIB_SHAPES,
    PROBABILITY_RANGE,
    REVERSAL_COLOR,
    VELOCITY_COLOR,
    decision_codes,
    decision_runs,
    event_mark,
    guides,
    reversal_intervals,
    target_index,
)

__all__ = ["Session", "render_report", "session_summary"]

_NOT_SENT = ("disarmed", "dry_run")  # suppressed reasons of pulses the policy did decide


@dataclass
class Session:
    """What a report needs from a session file.

    Attributes
    ----------
    states
        The model's state names.
    t, probs, state, latency_us
        Per prediction: frame time (s), probabilities, decided state index, decoder latency.
    uncertain
        Per prediction: the decoder abstained (all False when the file does not say).
    triggers
        Columns of the trigger table (``seq, t, kind, reason, pulse_ms, latency_us``).
    policy
        The trigger policy (empty without a trigger).
    behaviour_t, reversal, velocity
        Behaviour, when known: times, the reversal flag and the velocity (mm/s; ``None`` when
        the source gave none).
    calibration_s
        The session's self-calibration period (0 without, or when it received no behaviour):
        behaviour is scored after it.
    """

    states: tuple[str, ...]
    t: np.ndarray
    probs: np.ndarray
    state: np.ndarray
    latency_us: np.ndarray
    uncertain: np.ndarray
    triggers: dict[str, np.ndarray]
    policy: dict[str, Any]
    behaviour_t: np.ndarray | None = None
    reversal: np.ndarray | None = None
    velocity: np.ndarray | None = None
    calibration_s: float = 0.0

    @classmethod
    def read(cls, path: Path | str) -> Session:
        """Read a session file written by ``rtdecode run`` (with behaviour, if it holds any)."""
        data = read_session(path)
        preds = data.predictions
        n = len(preds.get("t", ()))
        if not n:
            raise DataFormatError(f"{path} holds no predictions: nothing to report")
        session = cls(
            states=data.states,
            t=preds["t"],
            probs=preds["probs"],
            state=preds["state"],
            latency_us=preds["latency_us"],
            uncertain=preds["uncertain"].astype(bool)
            if "uncertain" in preds
            else np.zeros(n, bool),
            triggers=dict(data.triggers),
            policy=data.policy,
            calibration_s=_calibration_s(data.summary),
        )
        flag = data.behavior.get("reversal")
        if flag is not None:
            known = np.isfinite(flag)  # NaN: the sample did not say, or the animal was lost
            if known.any():
                session.behaviour_t = data.behavior["t"][known]
                session.reversal = flag[known] > 0.5
                velocity = data.behavior.get("velocity")
                session.velocity = None if velocity is None else velocity[known]
        return session

    def with_recording(
        self,
        timestamps: np.ndarray,
        reversal: np.ndarray | None,
        velocity: np.ndarray | None = None,
    ) -> None:
        """Take behaviour from a recording whose frame times are the session's."""
        if reversal is None:
            raise ConfigError("the recording has no tracked reversals: no behaviour to show")
        self.behaviour_t, self.reversal = np.asarray(timestamps), np.asarray(reversal, bool)
        self.velocity = None if velocity is None else np.asarray(velocity, np.float64)

    def events(self, kind: str) -> np.ndarray:
        """Row indices of the trigger events of one kind."""
        if not self.triggers:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self.triggers["kind"] == kind)


def _calibration_s(summary: dict[str, Any] | None) -> float:
    """The calibration period from a session's summary: its ``seconds`` when it gathered any
    behaviour, else 0 (no calibration, or one that never received behaviour: the shipped model
    decided from the first frame)."""
    calibration = summary.get("calibration") if summary else None
    if not isinstance(calibration, dict) or not calibration.get("collected_s"):
        return 0.0
    return float(calibration.get("seconds", 0.0))


def _percentiles(values: np.ndarray) -> dict[str, float | None]:
    values = values[np.isfinite(values)]
    if not len(values):
        return {"count": 0, "p50": None, "p99": None, "p99.9": None}
    p50, p99, p999 = percentiles(values, (50, 99, 99.9))
    return {"count": len(values), "p50": float(p50), "p99": float(p99), "p99.9": float(p999)}


def session_summary(session: Session) -> dict[str, Any]:
    """The report's table: counts by kind and reason, latencies, and behaviour scores."""
    trig = session.triggers
    kinds = trig.get("kind", np.zeros(0, str))
    reasons = trig.get("reason", np.zeros(0, str))
    by = {
        kind: dict(Counter(str(r) for r in reasons[kinds == kind]))
        for kind in ("suppressed", "arm", "disarm")
    }
    pulses = np.isin(kinds, ("fire", "sham"))
    summary: dict[str, Any] = {
        "predictions": len(session.t),
        "minutes": float(session.t[-1] - session.t[0]) / 60.0,
        "fires": int((kinds == "fire").sum()),
        "shams": int((kinds == "sham").sum()),
        "light_s": float(trig["pulse_ms"][pulses].sum() / 1e3) if len(kinds) else 0.0,
        "suppressed": by["suppressed"],
        "arm": by["arm"],
        "disarm": by["disarm"],
        "trigger_latency_us": _percentiles(trig["latency_us"][pulses])
        if len(kinds)
        else _percentiles(np.zeros(0)),
        "decoder_latency_us": _percentiles(session.latency_us),
        "policy": session.policy,
    }
    if session.reversal is not None and session.behaviour_t is not None:
        # the behaviour up to the last prediction (earlier behaviour tells the onsets' kinds)
        upto = session.behaviour_t <= session.t[-1]
        bt, rev = session.behaviour_t[upto], session.reversal[upto]
        # a disarmed or dry-run session: the pulses the policy decided but nothing sent
        would = (kinds == "suppressed") & np.isin(reasons, _NOT_SENT)
        for kind in ("fire", "sham", "would_fire"):
            chosen = would if kind == "would_fire" else kinds == kind
            times = trig["t"][chosen] if len(kinds) else np.zeros(0)
            if kind != "fire" and not len(times):
                continue
            if len(bt):
                start = float(session.t[0]) + session.calibration_s
                summary[f"{kind}_score"] = score_fires(times, bt, rev, start).as_dict()
    return summary


def _figure(session: Session, summary: dict[str, Any]) -> Any:
    import_optional("matplotlib", "plot", "rtdecode report")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = float(session.t[0])
    fig, (ax_p, ax_r, ax_l, ax_tab) = plt.subplots(
        4, 1, figsize=(13, 9), gridspec_kw={"height_ratios": [3, 0.35, 1.4, 1.6]}
    )
    _probability(ax_p, session, t0)
    _ribbon(ax_r, session, t0)
    ax_r.sharex(ax_p)
    _latency(ax_l, session, t0)
    ax_l.sharex(ax_p)
    ax_tab.axis("off")
    ax_tab.table(
        cellText=_rows(summary), colWidths=[0.3, 0.7], loc="center", cellLoc="left"
    ).set_fontsize(9)
    fig.tight_layout()
    return fig


def _legend(ax: Any) -> None:
    """The axes' legend right of it, clear of the velocity axis's ticks."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.1, 1.0), fontsize=8, frameon=False)


def _probability(ax: Any, session: Session, t0: float) -> None:
    """The target's probability with the policy's guides, the tracked reversals and every
    trigger event, drawn as :mod:`rtdecode.timeline` says (as the live view draws them)."""
    column = target_index(session.states, session.policy)
    shown = guides(session.policy)
    if shown.band:
        ax.axhspan(*shown.band, color=GUIDE_COLOR, alpha=0.12, lw=0, label="abstain band")
    for value, label, dash in shown.lines:
        ax.axhline(value, color=GUIDE_COLOR, ls=dash, lw=0.8, label=label)
    if session.reversal is not None and session.behaviour_t is not None:
        left, right = reversal_intervals(session.behaviour_t - t0, session.reversal)
        for a, b in zip(left, right, strict=True):
            ax.axvspan(a, b, color=REVERSAL_COLOR, alpha=0.15, lw=0)
        ax.plot([], [], color=REVERSAL_COLOR, alpha=0.3, lw=8, label="reversal (behaviour)")
        _velocity(ax, session, t0)
    ax.plot(
        session.t - t0,
        session.probs[:, column],
        color="black",
        lw=0.8,
        label=f"p({session.states[column]})",
    )
    _mark_events(ax, session, t0)
    ax.set_ylim(*PROBABILITY_RANGE)
    ax.set_ylabel("probability")
    _legend(ax)
    ax.set_title("closed-loop session: decoded probability, decisions, triggers and behaviour")


def _velocity(ax: Any, session: Session, t0: float) -> None:
    """The tracked velocity on an axis of its own (right), from the first prediction on, as
    the view draws it."""
    if session.velocity is None or session.behaviour_t is None:
        return
    shown = session.behaviour_t >= t0
    if not np.isfinite(session.velocity[shown]).any():
        return
    twin = ax.twinx()
    twin.plot(
        session.behaviour_t[shown] - t0,
        session.velocity[shown],
        color=VELOCITY_COLOR,
        alpha=0.7,
        lw=0.7,
    )
    twin.set_ylabel("velocity (mm/s)")
    ax.plot([], [], color=VELOCITY_COLOR, alpha=0.7, lw=0.7, label="velocity (right axis)")


def _ribbon(ax: Any, session: Session, t0: float) -> None:
    """The decision ribbon: runs of forward, reversal (the target state) and uncertain."""
    column = target_index(session.states, session.policy)
    codes = decision_codes(session.state, session.uncertain, column)
    runs = decision_runs(session.t - t0, codes)
    for code, name in enumerate(DECISIONS):
        mine = runs["decision"] == code
        ax.broken_barh(
            list(zip(runs["left"][mine], (runs["right"] - runs["left"])[mine], strict=True)),
            (0, 1),
            color=DECISION_COLORS[code],
            label=name,
        )
    ax.set_yticks([])
    ax.set_ylabel("decision", rotation=0, ha="right", va="center")
    _legend(ax)


def _latency(ax: Any, session: Session, t0: float) -> None:
    """Decoder latency per prediction and trigger latency per pulse, over the session."""
    ax.plot(
        session.t - t0,
        session.latency_us / 1e3,
        ".",
        ms=2,
        color="tab:blue",
        label="decoder (received -> published)",
    )
    pulses = np.concatenate([session.events("fire"), session.events("sham")])
    trig = session.triggers
    if len(pulses):
        ax.plot(
            trig["t"][pulses] - t0,
            trig["latency_us"][pulses] / 1e3,
            "v",
            ms=5,
            color="tab:red",
            label="trigger (received -> byte written)",
        )
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms)")
    ax.set_xlabel("time in session (s)")
    _legend(ax)


def _policy_rows(policy: dict[str, Any], width: int = 100) -> list[list[str]]:
    """The whole policy, wrapped between keys (never cut inside one)."""
    import textwrap

    items = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(policy.items()))
    lines = textwrap.wrap(items, width, break_long_words=False, break_on_hyphens=False)
    return [["policy" if i == 0 else "", line] for i, line in enumerate(lines)]


def _mark_events(ax: Any, session: Session, t0: float) -> None:
    """Every trigger event as its :func:`rtdecode.timeline.event_mark` (one legend entry per
    mark, with its count): a suppressed fire of each reason, a watchdog disarm, as the view
    marks them; a line down the axis at every pulse."""
    trig = session.triggers
    if not trig or not len(trig.get("kind", ())):
        return
    marks = [event_mark(str(k), str(r)) for k, r in zip(trig["kind"], trig["reason"], strict=True)]
    times = trig["t"] - t0
    for key in sorted({m.key for m in marks}):
        rows = np.array([m.key == key for m in marks])
        mark = next(m for m in marks if m.key == key)
        if key in ("fire", "sham"):
            for x in times[rows]:
                ax.axvline(x, color=mark.color, lw=0.6, alpha=0.6)
        ax.scatter(
            times[rows],
            np.full(int(rows.sum()), mark.y),
            marker=MATPLOTLIB_SHAPES[mark.shape],
            color=mark.color,
            s=28,
            label=f"{mark.label} ({int(rows.sum())})",
            zorder=3,
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e3:.3f}"


def _rows(summary: dict[str, Any]) -> list[list[str]]:
    def counts(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"

    lat, dec = summary["trigger_latency_us"], summary["decoder_latency_us"]
    rows = [
        [
            "pulses",
            f"{summary['fires']} fired, {summary['shams']} sham, {summary['light_s']:.2f} s of light over {summary['minutes']:.1f} min",
        ],
        ["suppressed", counts(summary["suppressed"])],
        ["arm / disarm", f"{counts(summary['arm'])} / {counts(summary['disarm'])}"],
        [
            "trigger latency (ms)",
            f"p50 {_ms(lat['p50'])}  p99 {_ms(lat['p99'])}  p99.9 {_ms(lat['p99.9'])}  (received -> byte written, n {lat['count']})",
        ],
        [
            "decoder latency (ms)",
            f"p50 {_ms(dec['p50'])}  p99 {_ms(dec['p99'])}  p99.9 {_ms(dec['p99.9'])}",
        ],
    ]
    for kind, label in (
        ("fire", "fires vs behaviour"),
        ("sham", "shams vs behaviour"),
        ("would_fire", "fires the policy would have made (disarmed or dry run; none sent)"),
    ):
        score = summary.get(f"{kind}_score")
        if score:
            rows.append([label, describe(score)])
    if summary["policy"]:
        rows.extend(_policy_rows(summary["policy"]))
    return rows


def render_report(session: Session, out: Path) -> dict[str, Any]:
    """Write the report to ``out`` (``.png``, or ``.html`` with the figure inside) and return
    its summary."""
    suffix = out.suffix.lower()
    if suffix not in (".png", ".html", ".htm"):
        raise ConfigError(f"--out {out}: the report is .html or .png")
    summary = session_summary(session)
    fig = _figure(session, summary)
    import matplotlib.pyplot as plt

    try:
        if suffix == ".png":
            fig.savefig(out, dpi=110)
        else:
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=110)
            image = base64.b64encode(buffer.getvalue()).decode()
            table = "".join(
                f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                for k, v in _rows(summary)
            )
            out.write_text(
                "<!doctype html><meta charset='utf-8'><title>rtdecode session report</title>"
                "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
                "td,th{border-bottom:1px solid #ddd;padding:.3em}</style>"
                f"<h1>rtdecode session report</h1><table>{table}</table>"
                f"<img alt='timeline' style='max-width:100%' src='data:image/png;base64,{image}'>"
            )
    finally:
        plt.close(fig)
    return summary
