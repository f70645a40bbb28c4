"""``--trigger`` and its options for ``rtdecode run``: build the closed-loop controller."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from rtdecode.errors import ConfigError
from rtdecode.stream import SessionFile, Sink, Source

__all__ = [
    "POLICY_FLAGS",
    "build_controller",
    "format_trigger_summary",
    "policy_config",
    "trigger_options",
]

POLICY_FLAGS = {
    "on": (float, "Onset rule: fire when the state's probability rises above this."),
    "off": (float, "Onset rule: ... after having been below this."),
    "min_frames": (int, "Frames the probability must stay above --on."),
    "pulse_ms": (float, "Pulse width, ms."),
    "refractory_s": (float, "Least time between pulses, s."),
    "max_per_min": (int, "Rate cap: pulses in any minute."),
    "max_pulses": (int, "Session dose cap: pulses."),
    "max_light_s": (float, "Session dose cap: total light-on seconds."),
    "stale_ms": (
        float,
        "Suppress decisions on frames older than this (and disarm when the "
        "decoder stays this late).",
    ),
}


def trigger_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the closed-loop options to a click command."""
    for name, (kind, text) in reversed(POLICY_FLAGS.items()):
        command = click.option(f"--{name.replace('_', '-')}", name, type=kind, help=text)(command)
    options = [
        click.option(
            "--trigger",
            "trigger",
            is_flag=False,
            flag_value="",
            default=None,
            metavar="[POLICY.toml]",
            help="Close the loop: run the trigger policy (default, or from a TOML file; the "
            "policy flags below override it) on every prediction.",
        ),
        click.option(
            "--trigger-out",
            "trigger_outs",
            multiple=True,
            help="serial:///dev/ttyACM0?baud=115200 (the reference device), zmq+tcp://HOST:PORT "
            "(PUB, topic 'trigger') or lsl://NAME (Markers). Repeat for several.",
        ),
        click.option("--arm", is_flag=True, help="Drive the outputs (otherwise nothing fires)."),
        click.option("--dry-run", is_flag=True, help="Log what would fire; drive nothing."),
        click.option(
            "--sham",
            help="Control session: 'poisson' (random pulses at the rate the policy would have "
            "had) or 'yoked:SESSION.h5' (replay an earlier session's pulse times).",
        ),
        click.option("--sham-seed", default=0, show_default=True, help="Seed of --sham poisson."),
        click.option(
            "--watchdog-ms",
            type=float,
            help="Disarm when no frame arrived for this long (default: two frame periods).",
        ),
        click.option(
            "--rearm",
            type=click.Choice(["auto", "never"]),
            default="auto",
            show_default=True,
            help="After a watchdog disarm: re-arm once healthy again (logged), or stay off.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def policy_config(trigger: str | None, flags: dict[str, Any]) -> Any:
    """The policy from ``--trigger [POLICY.toml]`` and the flags (None without --trigger)."""
    from rtdecode.policy import PolicyConfig

    given = {name: flags[name] for name in POLICY_FLAGS if flags.get(name) is not None}
    if trigger is None:
        extra = [f"--{n.replace('_', '-')}" for n in given] + [
            f"--{n.replace('_', '-')}"
            for n in ("trigger_outs", "arm", "dry_run", "sham")
            if flags.get(n)
        ]
        if extra:
            raise ConfigError(f"{', '.join(extra)} only work with --trigger; add --trigger")
        return None
    base = PolicyConfig.from_toml(Path(trigger)) if trigger else PolicyConfig()
    return base.with_overrides(**given)


def build_controller(
    config: Any,
    flags: dict[str, Any],
    source: Source,
    sinks: Sequence[Sink],
    frame_clock: bool = False,
    insecure: bool = False,
) -> Any:
    """The :class:`~rtdecode.trigger.TriggerController` for ``rtdecode run``'s options."""
    from rtdecode.trigger._controller import Safety, TriggerController
    from rtdecode.trigger._outputs import open_trigger_output
    from rtdecode.trigger._sham import open_sham

    watchdog_ms = flags.get("watchdog_ms")
    safety = Safety(
        armed=bool(flags.get("arm")),
        dry_run=bool(flags.get("dry_run")),
        watchdog_s=None if watchdog_ms is None else watchdog_ms / 1e3,
        rearm=flags.get("rearm") or "auto",
        frame_clock=frame_clock,
    )
    return TriggerController(
        config,
        [open_trigger_output(uri, insecure) for uri in flags.get("trigger_outs") or ()],
        safety,
        sham=open_sham(flags.get("sham"), flags.get("sham_seed") or 0),
        malformed=lambda: sum(list(source.malformed.values())),
        event_logs=[sink.record_trigger for sink in sinks if isinstance(sink, SessionFile)],
    )


def format_trigger_summary(summary: dict[str, Any]) -> str:
    """Pulses, suppressed by reason, arm/disarm events and trigger latency, for the console."""
    events = summary["events"]

    def part(kind: str) -> str:
        counts = events.get(kind, {})
        return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"

    mode = "dry run" if summary["dry_run"] else "armed" if summary["armed"] else "disarmed"
    lines = [
        f"trigger ({mode} at the end{', sham ' + summary['sham'] if summary['sham'] else ''}): "
        f"pulses {summary['pulses']} ({summary['light_s']:.2f} s light)  "
        f"suppressed: {part('suppressed')}",
        f"arm: {part('arm')}  disarm: {part('disarm')}",
    ]
    for name, label in (("trigger", "frame received->written"), ("added", "decision->written")):
        stats = summary["latency_us"][name]
        if stats["count"]:
            lines.append(
                f"trigger {label} (ms) p50 {stats['p50'] / 1e3:.3f}  p99 {stats['p99'] / 1e3:.3f}  "
                f"p99.9 {stats['p99.9'] / 1e3:.3f}  max {stats['max'] / 1e3:.3f}  n {stats['count']}"
            )
    return "\n".join(lines)
