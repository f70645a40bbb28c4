"""``rtdecode run``: decode a live stream and publish predictions until stopped."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import click

from rtdecode.cli._calibrating import abstain_band, live_calibration
from rtdecode.cli._options import engine_option, insecure_option, model_option, threads_option
from rtdecode.cli._report import format_status, format_streams_summary, format_summary
from rtdecode.cli._signals import StopOnSignals, Stopped, stop_on_signals
from rtdecode.cli._trigger import (
    build_controller,
    format_trigger_summary,
    policy_config,
    trigger_options,
)
from rtdecode.engines import load_engine
from rtdecode.errors import ConfigError, RtdecodeError
from rtdecode.live import MAX_NEURONS, Pipeline, StreamSet
from rtdecode.stream import (
    BehaviorReceiver,
    BehaviorTrack,
    SessionFile,
    Sink,
    Source,
    open_sink,
    open_source,
    parse_address,
    stream_address,
)

__all__ = ["run"]


class _Console:
    """Prints the status line (one per stream with several): rewritten in place on a terminal,
    else appended every interval."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._since = time.monotonic()
        self._counts: list[int] | None = None

    def __call__(self, runner: Pipeline | StreamSet) -> None:
        streams = runner.streams if isinstance(runner, StreamSet) else [runner]
        now, counts = time.monotonic(), [stream.frames for stream in streams]
        elapsed = max(now - self._since, 1e-9)
        before = self._counts or [0] * len(counts)
        lines = [
            format_status(stream, (count - last) / elapsed)
            for stream, count, last in zip(streams, counts, before, strict=True)
        ]
        if isinstance(runner, StreamSet):
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


@click.command()
@click.option(
    "--source",
    "sources",
    required=True,
    multiple=True,
    help="zmq+tcp://HOST:PORT or zmq+ipc://PATH (connects to the microscope's PUB; add ?bind "
    "to bind), or lsl://NAME. Repeat to decode several streams (animals, rigs) in this one "
    "process: stream k (in --source order) gets its own window, preprocessing and sinks.",
)
@click.option(
    "--sink",
    "sinks",
    multiple=True,
    help="zmq+tcp://HOST:PORT (binds a PUB), lsl://NAME (an outlet), or FILE.h5 (session "
    "file). Repeat for several. With several --source, stream k's sinks are these with a "
    "suffix: TCP port PORT+k-1, NAME-k, FILE-k.h5.",
)
@model_option
@engine_option
@click.option(
    "--window",
    type=click.IntRange(min=1),
    help="Frames of history per neuron (default: the model's); a window shorter than the "
    "model's time span leaves its oldest time points masked.",
)
@click.option("--max-frames", type=int, help="Stop after this many frames.")
@click.option("--summary-json", type=click.Path(path_type=Path), help="Write the summary here.")
@click.option(
    "--overwrite", is_flag=True, help="Replace an existing session file (refused by default)."
)
@click.option(
    "--busy-poll", is_flag=True, help="Spin instead of sleeping: lower latency, one core."
)
@click.option(
    "--keep-warm",
    "keep_warm_ms",
    type=click.FloatRange(min=0, min_open=True),
    help="While idle, run a discarded forward on the current window every MS milliseconds, so "
    "a frame after a long gap finds caches and clocks warm (costs CPU while idle; a frame "
    "arriving during such a pass waits for it).",
)
@click.option(
    "--cpu",
    type=click.IntRange(min=0),
    help="Pin the decoder process (all its threads) to this core (os.sched_setaffinity).",
)
@click.option(
    "--decode-every-frame",
    is_flag=True,
    help="Never skip frames when behind: latency grows instead, until the bounded input queue "
    "(1,000 messages) overflows and drops.",
)
@click.option(
    "--max-neurons",
    type=click.IntRange(min=1),
    default=MAX_NEURONS,
    show_default=True,
    help="Refuse (count as malformed) frames with more neurons: the model's memory grows with "
    "the square of the neuron count.",
)
@click.option("--raw-fluorescence", is_flag=True, help="Input is raw F: decode dF/F (baseline).")
@click.option("--frame-interval", type=float, help="Seconds per frame (default: measured).")
@click.option(
    "--resolve-timeout",
    default=10.0,
    show_default=True,
    help="Seconds to look for an lsl:// stream (and --behavior-source) at start before giving "
    "up with an error; a negative value looks until it appears (a reminder is logged every "
    "30 s). Ctrl-C or SIGTERM stop the look-up within a second either way.",
)
@click.option(
    "--behavior-source",
    help="The tracked behaviour's own stream: zmq+tcp://, zmq+ipc:// ('behavior' messages) or "
    "lsl://NAME (channels labelled velocity and/or reversal). Default: 'behavior' messages on "
    "the frame socket, when there are any.",
)
@click.option(
    "--behavior-max-age",
    type=click.FloatRange(min=0.0, min_open=True),
    default=1.0,
    show_default=True,
    help="Oldest behaviour sample (s before the frame) that may give a frame its target.",
)
@click.option(
    "--calibrate",
    "calibrate_s",
    type=click.FloatRange(min=0.0),
    metavar="SECONDS",
    default=180.0,
    show_default=True,
    help="Self-calibration: fit the animal's own head on the first SECONDS of tracked behaviour "
    "(frame clock) while the shipped model decodes, and switch to it if it beats the shipped "
    "model on the most recent held-back part; 0 turns it off.",
)
@click.option(
    "--calibration-from",
    type=click.Path(path_type=Path),
    help="Start from an earlier session of this animal: a session file of a calibrated run, or "
    "a recording with behaviour (the head is fit on all of it, without identities). Its head "
    "decodes from the first frame; this session's calibration replaces it if it decides.",
)
@click.option(
    "--abstain",
    default=None,
    metavar="LO,HI",
    help="Reversal probabilities strictly inside this band are 'uncertain', and the trigger "
    "policy takes no decision there (one setting for both) [default: 0.4,0.6, or the policy "
    "file's abstain]; LO = HI turns the band off.",
)
@threads_option
@insecure_option
@click.option("--quiet", is_flag=True, help="No live status line.")
@trigger_options
def run(
    sources: tuple[str, ...],
    sinks: tuple[str, ...],
    model: Path | None,
    engine_name: str,
    window: int | None,
    max_frames: int | None,
    summary_json: Path | None,
    overwrite: bool,
    busy_poll: bool,
    keep_warm_ms: float | None,
    cpu: int | None,
    decode_every_frame: bool,
    max_neurons: int,
    raw_fluorescence: bool,
    frame_interval: float | None,
    resolve_timeout: float,
    behavior_source: str | None,
    behavior_max_age: float,
    calibrate_s: float,
    calibration_from: Path | None,
    abstain: str | None,
    threads: int,
    insecure: bool,
    quiet: bool,
    trigger: str | None,
    **trigger_flags: Any,
) -> None:
    """Decode behaviour from one or several live streams until Ctrl-C, SIGTERM, SIGHUP or
    --max-frames.

    Prints a summary at the end (one per stream with several --source): frames, predictions, drops, gaps, malformed messages, NaN
    values, the tracked behaviour's counters, self-calibration's outcome (which head decoded and
    why) and latency percentiles per stage (and, with --trigger, pulses, suppressed triggers by
    reason, arm/disarm events and trigger latency).

    With --trigger the loop is closed: the policy runs on every prediction and, with --arm,
    drives the --trigger-out outputs, under a watchdog that disarms and turns the light off
    when frames stop, the decoder falls behind, the neuron layout resets or malformed input
    floods in. Outputs are in their safe state at start, at stop, on SIGINT/SIGTERM/SIGHUP
    and on any error. A stop signal ends the run within about a second at any moment (also
    while an LSL stream is looked for, while the model loads or a calibration fit runs); one
    during start-up exits with status 128 + the signal's number and decodes nothing.

    With several --source, one process decodes them all: the windows ready at the same time
    are decoded as one batch, the status line and summary give each stream's counters and
    latency, each stream writes its own session file, and a stream that fails or stalls
    stops alone (the exit status is then 1). --trigger, --behavior-source and
    --calibration-from are for one stream: run one rtdecode per rig to close the loop.
    """
    if cpu is not None:
        _pin(cpu)
    # From here on SIGINT, SIGTERM and SIGHUP stop the run: during start-up at once (model
    # load, LSL look-ups), then through the loop's stop (safe state, summary, every row).
    signals = StopOnSignals()
    click.get_current_context().with_resource(stop_on_signals(signals))
    several = len(sources) > 1
    try:
        if several:
            _refuse_for_several(trigger, behavior_source, calibration_from)
        policy = policy_config(trigger, trigger_flags)
        band, policy = abstain_band(abstain, policy)
        if summary_json is not None:
            _check_writable(summary_json, "--summary-json")
        streams = [
            _open_stream(
                uri,
                [stream_address(sink, k) for sink in sinks] if several else list(sinks),
                model=model,
                engine_name=engine_name,
                policy=policy,
                overwrite=overwrite,
                insecure=insecure,
                resolve_timeout=resolve_timeout,
                behavior_source=behavior_source,
                behavior_max_age=behavior_max_age,
            )
            for k, uri in enumerate(sources, 1)
        ]
        controller = None
        if policy is not None:  # first sink: the pulse goes out before predictions are sent
            stream = streams[0]
            controller = build_controller(
                policy, trigger_flags, stream.source, stream.outputs, insecure=insecure
            )
            stream.outputs.insert(0, controller)
        click.echo(f"loading the model ({model or 'shipped'}, engine {engine_name})", err=True)
        engine = load_engine(model, engine_name)
        if window is not None:
            engine.window = window  # prepare() sizes the engine's buffers from it
        pipelines = [
            Pipeline(
                stream.source,
                engine.for_stream() if several else engine,
                stream.outputs,
                busy_poll=busy_poll,
                max_frames=max_frames,
                max_batch=1 if decode_every_frame else 256,
                frame_interval_s=frame_interval,
                on_status=None if quiet or several else _Console(),
                raw_fluorescence=raw_fluorescence,
                behavior=stream.track,
                max_neurons=max_neurons,
                keep_warm_s=None if keep_warm_ms is None else keep_warm_ms / 1e3,
                abstain=band,
                calibration=live_calibration(
                    calibrate_s, calibration_from, model, engine.states, frame_interval
                ),
            )
            for stream in streams
        ]
        for k, pipeline in enumerate(pipelines, 1):  # said once its source and sinks are open
            pipeline.on_open = partial(_say_decoding, f"stream {k}: " if several else "")
        click.echo("Ctrl-C stops", err=True)
        runner: Pipeline | StreamSet = (
            StreamSet(
                pipelines,
                engine,
                busy_poll=busy_poll,
                on_status=None if quiet else _Console(),
            )
            if several
            else pipelines[0]
        )
        receiver = streams[0].receiver
        if receiver is not None:
            receiver.start()
        signals.target = runner.stop
        try:
            summary = runner.run()
        finally:
            if receiver is not None:
                receiver.stop()
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    except Stopped as exc:
        click.echo(f"stopped by {exc} during start-up, before decoding began", err=True)
        raise SystemExit(exc.exit_code) from None
    if signals.received is not None:
        click.echo(f"stopped by {signals.received}", err=True)
    if not quiet:
        click.echo("", err=True)
    if several:
        click.echo(format_streams_summary(summary))
    else:
        click.echo(format_summary(summary))
    if controller is not None:
        summary["trigger"] = controller.summary()
        click.echo(format_trigger_summary(summary["trigger"]))
    if summary_json is not None:
        try:
            summary_json.write_text(json.dumps(summary, indent=2))
        except OSError as exc:
            raise click.ClickException(
                f"cannot write --summary-json {summary_json} ({exc})"
            ) from exc
    if several and summary["failed"]:
        failed = ", ".join(f"stream {k}" for k in summary["failed"])
        raise click.ClickException(f"{failed} failed (see the summary); the others ran on")


def _say_decoding(label: str, pipeline: Pipeline) -> None:
    outputs = ", ".join(sink.uri for sink in pipeline.sinks) or "no sink"
    click.echo(f"{label}decoding {pipeline.source.uri} -> {outputs}", err=True)


@dataclass
class _Stream:
    """One stream's source, outputs and behaviour before its pipeline is made."""

    source: Source
    outputs: list[Sink]
    track: BehaviorTrack
    receiver: BehaviorReceiver | None


def _open_stream(
    uri: str,
    sinks: list[str],
    *,
    model: Path | None,
    engine_name: str,
    policy: Any,
    overwrite: bool,
    insecure: bool,
    resolve_timeout: float,
    behavior_source: str | None,
    behavior_max_age: float,
) -> _Stream:
    """Open one stream's source, sinks and behaviour track (bad addresses fail here, fast)."""
    attrs = {"source": uri, "model": str(model or "default"), "engine": engine_name}
    if policy is not None:
        attrs["policy"] = policy.to_json()
    # bad addresses (and plain-text binds beyond loopback) fail fast
    source = open_source(uri, resolve_timeout=resolve_timeout, insecure=insecure)
    lsl_in = parse_address(uri).kind == "lsl"  # frame times are on LSL's clock
    outputs = [
        open_sink(sink, attrs, lsl_frame_times=lsl_in, overwrite=overwrite, insecure=insecure)
        for sink in sinks
    ]
    # Session files open last: a network sink that cannot bind fails before any file is made.
    outputs.sort(key=lambda sink: isinstance(sink, SessionFile))
    track = BehaviorTrack(behavior_max_age, uri=behavior_source or uri)
    receiver = None
    if behavior_source is None:
        source.behavior = track
    else:
        receiver = BehaviorReceiver(behavior_source, track, resolve_timeout=resolve_timeout)
    return _Stream(source, outputs, track, receiver)


def _refuse_for_several(
    trigger: str | None, behavior_source: str | None, calibration_from: Path | None
) -> None:
    """The options that belong to one stream, refused with several --source."""
    for given, option, why in (
        (trigger, "--trigger", "each rig's light needs its own policy and output"),
        (behavior_source, "--behavior-source", "send each rig's behaviour on its frame socket"),
        (calibration_from, "--calibration-from", "an earlier session is of one animal"),
    ):
        if given is not None:
            raise ConfigError(
                f"{option} is for one stream and several --source were given ({why}); run "
                "one rtdecode per stream for it"
            )


def _pin(cpu: int) -> None:
    """Restrict this process to core ``cpu``, or fail naming the cores it may use."""
    allowed = sorted(os.sched_getaffinity(0))
    if cpu not in allowed:
        raise click.BadParameter(
            f"core {cpu} is not available to this process; choose one of {allowed}",
            param_hint="--cpu",
        )
    os.sched_setaffinity(0, {cpu})
