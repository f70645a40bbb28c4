"""``rtdecode run``: decode live streams and publish predictions until stopped.

The flags and the rig file (``--config rig.toml``) make one :class:`~rtdecode.live.RunConfig`
(flags win); :func:`~rtdecode.live.open_session` builds the session from it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import click

from rtdecode.calibration import OUTPUTS
from rtdecode.cli._report import format_run_summary, format_status
from rtdecode.cli._rig_options import GroupedCommand, deprecated_alias, given_overrides, rig_option
from rtdecode.cli._signals import StopOnSignals, Stopped, stop_on_signals
from rtdecode.cli._view import VIEW_OPTIONS
from rtdecode.engines import ENGINES
from rtdecode.errors import ConfigError, RtdecodeError

__all__ = ["run"]

POLICY_FLAGS = {
    "on": (float, "Onset rule: fire when the state's probability rises above this."),
    "off": (float, "Onset rule: ... after having been below this."),
    "min_frames": (int, "Frames the probability must stay above --on."),
    "pulse_ms": (float, "Pulse width, ms."),
    "refractory_s": (float, "Least time between pulses, s."),
    "max_per_min": (int, "Rate cap: pulses in any minute."),
    "max_pulses": (int, "Session dose cap: pulses."),
    "max_light_s": (float, "Session dose cap: total light-on seconds."),
    "stale_ms": (float, "Suppress decisions on frames older than this (and disarm when late)."),
    "false_per_min": (
        float,
        "Armed rule: when self-calibration ends, set the threshold so that it would have fired "
        "at most B false triggers per minute on the calibration period (logged; in the session "
        "file and the summary).",
    ),
    "arm_s": (float, "Armed rule: seconds the score must sit below threshold before a crossing."),
    "prior_evidence": (float, "Armed rule: n0 shrinking --false-per-min's threshold to the cross."),
    "cross_threshold": (float, "Armed rule: the cross-animal threshold (logit) to shrink toward."),
}


class _Console:
    """Prints the status line (one per stream with several): rewritten in place on a terminal,
    else appended every interval."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._since = time.monotonic()
        self._counts: list[int] | None = None

    def __call__(self, runner: Any) -> None:
        streams = runner.streams
        now, counts = time.monotonic(), [stream.frames for stream in streams]
        elapsed = max(now - self._since, 1e-9)
        before = self._counts or [0] * len(counts)
        lines = [
            format_status(stream, (count - last) / elapsed)
            for stream, count, last in zip(streams, counts, before, strict=True)
        ]
        if len(lines) > 1:
            self._draw_streams(lines, runner.failed)
        else:
            click.echo(f"\r{lines[0]:<110}" if self._tty else lines[0], err=True, nl=not self._tty)
        self._since, self._counts = now, counts

    def _draw_streams(self, lines: list[str], failed: dict[int, str]) -> None:
        """One line per stream; on a terminal, back to the first line and over the last drawing."""
        lines = [
            f"stream {k}: " + (f"FAILED: {failed[k - 1]}" if k - 1 in failed else line)
            for k, line in enumerate(lines, 1)
        ]
        if not self._tty:
            click.echo("\n".join(lines), err=True)
            return
        up = "" if self._counts is None else f"\x1b[{len(lines)}F"
        click.echo(up + "".join(f"\x1b[2K{line}\n" for line in lines), err=True, nl=False)


def _check_writable(path: Path, what: str) -> None:
    """Refuse, before anything runs, an output file that could not be written at the end."""
    folder = path.parent
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a folder; give a file name")
    if not folder.is_dir():
        raise ConfigError(f"{what} {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{what} {path} is not writable; choose a folder you can write to")


def _band(text: str) -> dict[str, Any]:
    from rtdecode.cli._calibrate_eval import parse_band

    return {"abstain": parse_band(text)}


def _calibrate(seconds: float) -> dict[str, Any]:
    return {"enabled": False} if seconds == 0 else {"enabled": True, "seconds": seconds}


def _fused(where: str) -> dict[str, Any]:
    return {"fused": None if where == "none" else where}


def _several(key: str) -> Any:
    return lambda values: {key: tuple(values)}


_FLAG = {"is_flag": True, "default": None}
_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (
        ("--config", "rig"),
        {
            "type": click.Path(path_type=Path),
            "group": "Rig file",
            "help": "Rig file (TOML, sections [source] [decoder] [behavior] [calibration] [policy] "
            "[safety] [view]; see docs/rig-file.md). Flags override its keys.",
        },
    ),
    (
        ("--print-config",),
        {
            **_FLAG,
            "group": "Rig file",
            "help": "Print the resolved configuration as a rig file and exit.",
        },
    ),
    (
        ("--source", "sources"),
        {
            "multiple": True,
            "section": "source",
            "key": "addresses",
            "convert": _several("addresses"),
            "show_default": False,
            "help": "zmq+tcp://HOST:PORT or zmq+ipc://PATH (connects to the microscope's PUB; add "
            "?bind to bind), or lsl://NAME. Repeat to decode several streams (animals, rigs) in this "
            "one process: stream k gets its own window, preprocessing and sinks.",
        },
    ),
    (
        ("--sink", "sinks"),
        {
            "multiple": True,
            "section": "source",
            "key": "sinks",
            "convert": _several("sinks"),
            "show_default": False,
            "help": "zmq+tcp://HOST:PORT (binds a PUB), lsl://NAME (an outlet), or FILE.h5 (session "
            "file). Repeat for several. With several --source, stream k's sinks are these with a "
            "suffix: TCP port PORT+k-1, NAME-k, FILE-k.h5.",
        },
    ),
    (
        ("--raw-fluorescence",),
        {
            **_FLAG,
            "section": "source",
            "key": "raw_fluorescence",
            "help": "Input is raw F: decode dF/F (baseline).",
        },
    ),
    (
        ("--resolve-timeout",),
        {
            "type": float,
            "section": "source",
            "key": "resolve_timeout_s",
            "help": "Seconds to look for an lsl:// stream (and --behavior-source) at start before "
            "giving up with an error; a negative value looks until it appears (a reminder is "
            "logged every 30 s). Ctrl-C or SIGTERM stop the look-up within a second either way.",
        },
    ),
    (
        ("--max-neurons",),
        {
            "type": click.IntRange(min=1),
            "section": "source",
            "key": "max_neurons",
            "help": "Refuse (count as malformed) frames with more neurons.",
        },
    ),
    (
        ("--overwrite",),
        {
            **_FLAG,
            "section": "source",
            "key": "overwrite",
            "help": "Replace an existing session file.",
        },
    ),
    (
        ("--no-session-activity", "no_session_activity"),
        {
            **_FLAG,
            "section": "source",
            "key": "session_activity",
            "convert": lambda flag: {"session_activity": not flag},
            "help": "Keep no activity in the session file (its preprocessed rows, ~75 MB per "
            "hour at 10 frames/s and 150 neurons): rtdecode view SESSION.h5 then shows no "
            "raster, graph or manifold.",
        },
    ),
    (
        ("--insecure",),
        {
            **_FLAG,
            "section": "source",
            "key": "insecure",
            "help": "Allow a ZeroMQ bind beyond loopback without CURVE keys: anyone who can reach "
            "the port can send frames or read predictions.",
        },
    ),
    (("--model",), {"section": "decoder", "key": "model", "help": "Model file (none: shipped)."}),
    (
        ("--engine",),
        {
            "type": click.Choice(ENGINES),
            "section": "decoder",
            "key": "engine",
            "help": "Inference runtime: numba (one fused kernel, the fastest on a CPU), torch and "
            "onnx (references), cuda (NVIDIA GPU).",
        },
    ),
    (
        ("--window",),
        {
            "type": click.IntRange(min=1),
            "section": "decoder",
            "key": "window",
            "help": "Frames of history per neuron (none: the model's).",
        },
    ),
    (
        ("--threads",),
        {
            "type": click.IntRange(min=1),
            "section": "decoder",
            "key": "threads",
            "help": "Intra-op threads of the torch engine (1 avoids thread contention's tail).",
        },
    ),
    (
        ("--abstain",),
        {
            "metavar": "LO,HI",
            "section": "decoder",
            "key": "abstain",
            "convert": _band,
            "help": "Reversal probabilities strictly inside this band are "
            "'uncertain' and the trigger policy takes no decision there (one band for both; a "
            "policy's abstain serves when this is not given); LO = HI turns it off.",
        },
    ),
    (
        ("--decode-every-frame",),
        {
            **_FLAG,
            "section": "decoder",
            "key": "max_batch",
            "convert": lambda flag: {"max_batch": 1} if flag else {},
            "show_default": False,
            "help": "Never skip frames when behind: latency grows instead, until the bounded input "
            "queue (1,000 messages) overflows and drops (max_batch 1).",
        },
    ),
    (
        ("--max-frames",),
        {
            "type": click.IntRange(min=1),
            "section": "decoder",
            "key": "max_frames",
            "help": "Stop after this many frames.",
        },
    ),
    (
        ("--busy-poll",),
        {
            **_FLAG,
            "section": "decoder",
            "key": "busy_poll",
            "help": "Spin instead of sleeping: lower latency, one core.",
        },
    ),
    (
        ("--fused",),
        {
            "section": "decoder",
            "key": "fused",
            "metavar": "MODEL",
            "convert": _fused,
            "help": "After self-calibration, decide with issue 17's fused decision (cross-animal "
            "heads on identity-free neuron roles, the animal's state and onset heads, their "
            "stack): 'shipped', a file from tools/fit_cross_model.py, or 'none' (the calibrated "
            "head of issue 10 decides).",
        },
    ),
    (
        ("--fused-part",),
        {
            "type": click.Choice(OUTPUTS),
            "section": "decoder",
            "key": "fused_part",
            "help": "Which part of the fused decision decides: the stack ('fused') or one of "
            "its components (the default was chosen by nested leave-one-animal-out).",
        },
    ),
    (
        ("--keep-warm-ms",),
        {
            "type": click.FloatRange(min=0, min_open=True),
            "section": "decoder",
            "key": "keep_warm_ms",
            "help": "While idle, run a discarded forward on the current "
            "window every MS milliseconds, so a frame after a long gap finds caches and clocks warm "
            "(costs CPU while idle).",
        },
    ),
    (
        ("--cpu",),
        {
            "type": click.IntRange(min=0),
            "section": "decoder",
            "key": "cpu",
            "help": "Pin the decoder process (all its threads) to this core.",
        },
    ),
    (
        ("--behavior-source",),
        {
            "section": "behavior",
            "key": "source",
            "help": "The tracked behaviour's own stream: zmq+tcp://, zmq+ipc:// ('behavior' "
            "messages) or lsl://NAME (channels velocity and/or reversal); none: 'behavior' "
            "messages on the frame socket.",
        },
    ),
    (
        ("--fuse-behavior",),
        {
            **_FLAG,
            "section": "behavior",
            "key": "fuse",
            "help": "After self-calibration, the fused stack also takes the live tracked "
            "velocity (frames without a recent sample decide on the neural score alone).",
        },
    ),
    (
        ("--calibrate", "calibrate_s"),
        {
            "type": click.FloatRange(min=0.0),
            "metavar": "SECONDS",
            "section": "calibration",
            "key": "seconds",
            "convert": _calibrate,
            "help": "Self-calibration: fit the animal's own head on the first SECONDS of tracked "
            "behaviour while the shipped model decodes, and switch to it if it beats the shipped "
            "model on the most recent held-back part; 0 turns it off.",
        },
    ),
    (
        ("--calibration-from",),
        {
            "section": "calibration",
            "key": "start_from",
            "help": "Start from an earlier session of this animal: a calibrated session's file, or a "
            "recording with behaviour. Its head decodes from the first frame.",
        },
    ),
    (
        ("--trigger",),
        {
            "is_flag": False,
            "flag_value": "",
            "default": None,
            "metavar": "[POLICY.toml]",
            "group": "Trigger",
            "help": "Close the loop: run the trigger policy (default, the rig file's [policy], or "
            "this policy file; the policy flags below override it) on every prediction.",
        },
    ),
    (
        ("--trigger-out", "trigger_outs"),
        {
            "multiple": True,
            "section": "safety",
            "key": "outputs",
            "convert": _several("outputs"),
            "group": "Trigger",
            "show_default": False,
            "help": "serial:///dev/ttyACM0?baud=115200 (the reference device), zmq+tcp://HOST:PORT "
            "(PUB, topic 'trigger') or lsl://NAME (Markers). Repeat for several.",
        },
    ),
    (
        ("--arm",),
        {
            **_FLAG,
            "section": "safety",
            "key": "arm",
            "group": "Trigger",
            "help": "Drive the outputs (otherwise nothing fires).",
        },
    ),
    (
        ("--dry-run",),
        {
            **_FLAG,
            "section": "safety",
            "key": "dry_run",
            "group": "Trigger",
            "help": "Log what would fire; drive nothing.",
        },
    ),
    (
        ("--sham",),
        {
            "section": "safety",
            "key": "sham",
            "group": "Trigger",
            "help": "Control session: 'poisson' (random pulses at the policy's rate) or "
            "'yoked:SESSION.h5' (replay an earlier session's pulse times).",
        },
    ),
    (
        ("--watchdog-ms",),
        {
            "type": float,
            "section": "safety",
            "key": "watchdog_ms",
            "group": "Trigger",
            "help": "Disarm when no frame arrived for this long (none: two frame periods).",
        },
    ),
    *[
        (
            (f"--{name.replace('_', '-')}", name),
            {"type": kind, "section": "policy", "key": name, "group": "Trigger", "help": text},
        )
        for name, (kind, text) in POLICY_FLAGS.items()
    ],
    *VIEW_OPTIONS,
    (
        ("--json", "json_out"),
        {"type": click.Path(path_type=Path), "help": "Write the summary here (JSON)."},
    ),
    (("--quiet",), {"is_flag": True, "help": "No live status line."}),
]
_ALIASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("--summary-json", "json_out_old", "json_out", {"type": click.Path(path_type=Path)}),
    ("--keep-warm", "keep_warm_old", "keep_warm_ms", {"type": float}),
]


def _options(command: Any) -> Any:
    """Add the options of :data:`_OPTIONS` and the deprecated aliases."""
    for old, name, _, kwargs in _ALIASES:
        command = deprecated_alias(old, name, **kwargs)(command)
    for decls, kwargs in reversed(_OPTIONS):
        command = rig_option(*decls, **kwargs)(command)
    return command


@click.command(cls=GroupedCommand)
@_options
@click.pass_context
def run(ctx: click.Context, **values: Any) -> None:
    """Decode behaviour from one or several live streams until Ctrl-C, SIGTERM, SIGHUP or
    --max-frames.

    Prints a summary at the end (one per stream with several --source): frames, predictions,
    drops, gaps, malformed messages, NaN values, the tracked behaviour's counters,
    self-calibration's outcome and latency percentiles per stage (and, with --trigger, pulses,
    suppressed triggers by reason, arm/disarm events and trigger latency).

    With --trigger the loop is closed: the policy runs on every prediction and, with --arm,
    drives the --trigger-out outputs, under a watchdog that disarms and turns the light off
    when frames stop, the decoder falls behind, the neuron layout resets or malformed input
    floods in. Outputs are in their safe state at start, at stop, on SIGINT/SIGTERM/SIGHUP
    and on any error. A stop signal ends the run within about a second at any moment (also
    while an LSL stream is looked for, while the model loads or a calibration fit runs); one
    during start-up exits with status 128 + the signal's number and decodes nothing.

    With several --source, one process decodes them all: the windows ready at the same time
    are decoded as one batch, each stream writes its own session file, and a stream that
    fails or stalls stops alone (the exit status is then 1). --trigger, --behavior-source and
    --calibration-from are for one stream.
    """
    # From here on SIGINT, SIGTERM and SIGHUP stop the run: during start-up at once (model
    # load, LSL look-ups), then through the session's stop (safe state, summary, every row).
    signals = StopOnSignals()
    ctx.with_resource(stop_on_signals(signals))
    try:
        config = _config(ctx, values)
        if values["print_config"]:
            from rtdecode.live import render_toml

            click.echo(render_toml(config), nl=False)
            return
        summary = _run(config, values, signals)
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    except Stopped as exc:
        click.echo(f"stopped by {exc} during start-up, before decoding began", err=True)
        raise SystemExit(exc.exit_code) from None
    if summary.get("failed"):
        failed = ", ".join(f"stream {k}" for k in summary["failed"])
        raise click.ClickException(f"{failed} failed (see the summary); the others ran on")


def _say_decoding(several: bool, index: int, stream: Any) -> None:
    """Say what a stream decodes into, once its source and sinks are open (a start that fails
    never says it)."""
    outputs = ", ".join(sink.uri for sink in stream.sinks) or "no sink"
    label = f"stream {index + 1}: " if several else ""
    click.echo(f"{label}decoding {stream.source.uri} -> {outputs}", err=True)


def _config(ctx: click.Context, values: dict[str, Any]) -> Any:
    """The configuration from the rig file and the flags given."""
    from rtdecode.config import read_toml
    from rtdecode.live import resolve_run_config

    overrides = given_overrides(ctx, values, [(old, new) for _, old, new, _ in _ALIASES])
    rig = values["rig"]
    trigger = values["trigger"]
    config = resolve_run_config(
        read_toml(rig) if rig is not None else {},
        overrides,
        policy_file=Path(trigger) if trigger else None,
        trigger=trigger is not None,
        where="the command line" if rig is None else f"rig file {rig}",
    )
    if not config.source.addresses and not values["print_config"]:
        raise ConfigError("no source: give --source (or [source] addresses in the rig file)")
    return config


def _run(config: Any, values: dict[str, Any], signals: StopOnSignals) -> dict[str, Any]:
    """Build the session, run it, print and write its summary."""
    from rtdecode.cli._view import attached_view, open_view, stopped_on_failure
    from rtdecode.live import open_session

    json_out = values["json_out"]
    if json_out is not None:
        _check_writable(json_out, "--json")
    quiet = values["quiet"]
    decoder = config.decoder
    view = open_view(config)  # its page starts while the model loads
    click.echo(
        f"loading the model ({decoder.model or 'shipped'}, engine {decoder.engine})", err=True
    )
    with stopped_on_failure(view):
        session = open_session(
            config,
            on_status=None if quiet else _Console(),
            on_open=partial(_say_decoding, config.several),
        )
    click.echo("Ctrl-C stops", err=True)
    signals.target = session.stop
    with attached_view(config, session, view):
        summary = session.run()
    if signals.received is not None:
        click.echo(f"stopped by {signals.received}", err=True)
    if not quiet:
        click.echo("", err=True)
    click.echo(format_run_summary(summary))
    if json_out is not None:
        try:
            json_out.write_text(json.dumps(summary, indent=2))
        except OSError as exc:
            raise click.ClickException(f"cannot write --json {json_out} ({exc})") from exc
    return summary
