"""``rtdecode report``: one session file as a timeline a person reads in seconds, and a table.

Timeline: the probability driving the trigger with the policy's thresholds, the decided state,
behaviour when known (shaded reversals), every fire, sham, suppressed trigger and arm/disarm,
and latency over time. Table: pulses, suppressed by reason, arm/disarm by reason, trigger
latency percentiles and, with behaviour, onsets caught and false triggers per minute
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
from rtdecode.events import describe, onset_indices, score_fires
from rtdecode.latency import percentiles
from rtdecode.stream import read_session

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
    behaviour_t, reversal
        Behaviour, when known: times and the reversal flag.
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
        return session

    def with_recording(self, timestamps: np.ndarray, reversal: np.ndarray | None) -> None:
        """Take behaviour from a recording whose frame times are the session's."""
        if reversal is None:
            raise ConfigError("the recording has no tracked reversals: no behaviour to show")
        self.behaviour_t, self.reversal = np.asarray(timestamps), np.asarray(reversal, bool)

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

    policy = session.policy
    target = policy.get("state", "reversal" if "reversal" in session.states else session.states[-1])
    column = session.states.index(target) if target in session.states else 0
    t0 = float(session.t[0])
    t = session.t - t0
    fig, (ax_p, ax_l, ax_tab) = plt.subplots(
        3, 1, figsize=(13, 8.5), gridspec_kw={"height_ratios": [3, 1.4, 1.6]}
    )
    _shade_reversals(ax_p, session, t0)
    ax_p.plot(t, session.probs[:, column], color="black", lw=0.8, label=f"p({target})")
    for key, style in (("on", "--"), ("off", ":")):
        if key in policy:
            ax_p.axhline(
                policy[key], color="grey", ls=style, lw=0.8, label=f"{key} {policy[key]:g}"
            )
    decided = session.state == column
    ax_p.scatter(
        t[decided],
        np.full(decided.sum(), -0.06),
        s=4,
        marker="|",
        color="tab:blue",
        label=f"decided {target}",
    )
    if session.uncertain.any():
        u = session.uncertain
        ax_p.scatter(
            t[u], np.full(u.sum(), -0.1), s=4, marker="|", color="tab:orange", label="uncertain"
        )
    _mark_events(ax_p, session, t0)
    ax_p.set_ylim(-0.14, 1.2)
    ax_p.set_ylabel("probability")
    ax_p.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax_p.set_title("closed-loop session: decoded probability, decisions, triggers and behaviour")
    ax_l.plot(
        t,
        session.latency_us / 1e3,
        ".",
        ms=2,
        color="tab:blue",
        label="decoder (received -> published)",
    )
    pulses = np.concatenate([session.events("fire"), session.events("sham")])
    trig = session.triggers
    if len(pulses):
        ax_l.plot(
            trig["t"][pulses] - t0,
            trig["latency_us"][pulses] / 1e3,
            "v",
            ms=5,
            color="tab:red",
            label="trigger (received -> byte written)",
        )
    ax_l.set_yscale("log")
    ax_l.set_ylabel("latency (ms)")
    ax_l.set_xlabel("time in session (s)")
    ax_l.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax_l.sharex(ax_p)
    ax_tab.axis("off")
    ax_tab.table(
        cellText=_rows(summary), colWidths=[0.3, 0.7], loc="center", cellLoc="left"
    ).set_fontsize(9)
    fig.tight_layout()
    return fig


_REASON_MARKERS = ("x", "+", "1", "2", "3", "4", "*", "D")


def _suppressed_marks(ax: Any, session: Session, t0: float) -> None:
    """One mark (and legend entry) per suppression reason, not one for all of them."""
    rows = session.events("suppressed")
    if not len(rows):
        return
    reasons = session.triggers["reason"][rows].astype(str)
    times = session.triggers["t"][rows] - t0
    for k, reason in enumerate(sorted(set(reasons))):
        mine = reasons == reason
        ax.scatter(
            times[mine],
            np.full(int(mine.sum()), 1.02),
            marker=_REASON_MARKERS[k % len(_REASON_MARKERS)],
            color="grey",
            s=28,
            label=f"suppressed: {reason or 'no reason'} ({int(mine.sum())})",
            zorder=3,
        )


def _policy_rows(policy: dict[str, Any], width: int = 100) -> list[list[str]]:
    """The whole policy, wrapped between keys (never cut inside one)."""
    import textwrap

    items = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(policy.items()))
    lines = textwrap.wrap(items, width, break_long_words=False, break_on_hyphens=False)
    return [["policy" if i == 0 else "", line] for i, line in enumerate(lines)]


def _shade_reversals(ax: Any, session: Session, t0: float) -> None:
    """Shade the behaviour's reversals (when the session knows them)."""
    if session.reversal is None or session.behaviour_t is None:
        return
    bt = session.behaviour_t - t0
    rev = session.reversal
    starts, ends = onset_indices(rev), onset_indices(~rev)
    if rev[0]:
        starts = np.r_[0, starts]
    for s in starts:
        later = ends[ends > s]
        e = later[0] if len(later) else len(rev) - 1
        if bt[e] > 0:  # nothing before the session's first prediction (t = 0)
            ax.axvspan(max(bt[s], 0.0), bt[e], color="tab:green", alpha=0.15, lw=0)
    ax.plot([], [], color="tab:green", alpha=0.3, lw=8, label="reversal (behaviour)")


def _mark_events(ax: Any, session: Session, t0: float) -> None:
    """Every fire, sham, suppressed trigger (one mark per reason) and arm/disarm as a marker
    above the probability."""
    trig = session.triggers
    marks = {
        "fire": ("tab:red", "v", 1.08),
        "sham": ("tab:purple", "v", 1.08),
        "arm": ("tab:green", "^", 1.14),
        "disarm": ("tab:red", "^", 1.14),
    }
    _suppressed_marks(ax, session, t0)
    for kind, (color, marker, y) in marks.items():
        rows = session.events(kind)
        if len(rows):
            times = trig["t"][rows] - t0
            if kind in ("fire", "sham"):
                for x in times:
                    ax.axvline(x, color=color, lw=0.6, alpha=0.6)
            ax.scatter(
                times,
                np.full(len(rows), y),
                marker=marker,
                color=color,
                s=28,
                label=f"{kind} ({len(rows)})",
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
