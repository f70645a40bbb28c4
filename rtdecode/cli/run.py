"""``rtdecode run``: decode a live stream and publish predictions until stopped."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from rtdecode.cli._calibrating import abstain_band, live_calibration
from rtdecode.cli._options import engine_option, insecure_option, model_option, threads_option
from rtdecode.cli._report import format_status, format_summary
from rtdecode.cli._signals import stop_on_signals
from rtdecode.cli._trigger import (
    build_controller,
    format_trigger_summary,
    policy_config,
    trigger_options,
)
from rtdecode.engines import load_engine
from rtdecode.errors import ConfigError, RtdecodeError
from rtdecode.stream import (
    BehaviorReceiver,
    BehaviorTrack,
    Pipeline,
    SessionFile,
    open_sink,
    open_source,
    parse_address,
)
from rtdecode.stream._pipeline import MAX_NEURONS

__all__ = ["run"]


class _Console:
    """Prints the status line: rewritten in place on a terminal, else one line per interval."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last = (time.monotonic(), 0)

    def __call__(self, pipeline: Pipeline) -> None:
        now, frames = time.monotonic(), pipeline.frames
        rate = (frames - self._last[1]) / max(now - self._last[0], 1e-9)
        self._last = (now, frames)
        line = format_status(pipeline, rate)
        click.echo(f"\r{line:<110}" if self._tty else line, err=True, nl=not self._tty)


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
    required=True,
    help="zmq+tcp://HOST:PORT or zmq+ipc://PATH (connects to the microscope's PUB; add ?bind "
    "to bind), or lsl://NAME.",
)
@click.option(
    "--sink",
    "sinks",
    multiple=True,
    help="zmq+tcp://HOST:PORT (binds a PUB), lsl://NAME (an outlet), or FILE.h5 (session "
    "file). Repeat for several.",
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
@click.option("--resolve-timeout", default=10.0, show_default=True, help="LSL look-up, s.")
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
    source: str,
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
    """Decode behaviour from a live stream until Ctrl-C, SIGTERM or --max-frames.

    Prints a summary at the end: frames, predictions, drops, gaps, malformed messages, NaN
    values, the tracked behaviour's counters, self-calibration's outcome (which head decoded and
    why) and latency percentiles per stage (and, with --trigger, pulses, suppressed triggers by
    reason, arm/disarm events and trigger latency).

    With --trigger the loop is closed: the policy runs on every prediction and, with --arm,
    drives the --trigger-out outputs, under a watchdog that disarms and turns the light off
    when frames stop, the decoder falls behind, the neuron layout resets or malformed input
    floods in. Outputs are in their safe state at start, at stop, on SIGINT/SIGTERM and on
    any error.
    """
    if cpu is not None:
        _pin(cpu)
    try:
        attrs = {"source": source, "model": str(model or "default"), "engine": engine_name}
        # bad addresses (and plain-text binds beyond loopback) fail fast
        stream = open_source(source, resolve_timeout=resolve_timeout, insecure=insecure)
        lsl_in = parse_address(source).kind == "lsl"  # frame times are on LSL's clock
        policy = policy_config(trigger, trigger_flags)
        band, policy = abstain_band(abstain, policy)
        if policy is not None:
            attrs["policy"] = policy.to_json()
        if summary_json is not None:
            _check_writable(summary_json, "--summary-json")
        outputs = [
            open_sink(uri, attrs, lsl_frame_times=lsl_in, overwrite=overwrite, insecure=insecure)
            for uri in sinks
        ]
        # Session files open last: a network sink that cannot bind fails before any file is made.
        outputs.sort(key=lambda sink: isinstance(sink, SessionFile))
        track = BehaviorTrack(behavior_max_age, uri=behavior_source or source)
        receiver = None
        if behavior_source is None:
            stream.behavior = track
        else:
            receiver = BehaviorReceiver(behavior_source, track, resolve_timeout=resolve_timeout)
        controller = None
        if policy is not None:  # first sink: the pulse goes out before predictions are sent
            controller = build_controller(policy, trigger_flags, stream, outputs, insecure=insecure)
            outputs.insert(0, controller)
        engine = load_engine(model, engine_name)
        if window is not None:
            engine.window = window  # prepare() sizes the engine's buffers from it
        calibration = live_calibration(
            calibrate_s, calibration_from, model, engine.states, frame_interval
        )
        pipeline = Pipeline(
            stream,
            engine,
            outputs,
            busy_poll=busy_poll,
            max_frames=max_frames,
            max_batch=1 if decode_every_frame else 256,
            frame_interval_s=frame_interval,
            on_status=None if quiet else _Console(),
            raw_fluorescence=raw_fluorescence,
            behavior=track,
            max_neurons=max_neurons,
            keep_warm_s=None if keep_warm_ms is None else keep_warm_ms / 1e3,
            abstain=band,
            calibration=calibration,
        )
        if receiver is not None:
            receiver.start()
        click.echo(f"decoding {source} -> {', '.join(sinks) or 'no sink'} (Ctrl-C stops)", err=True)
        try:
            with stop_on_signals(pipeline.stop):
                summary = pipeline.run()
        finally:
            if receiver is not None:
                receiver.stop()
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    if not quiet:
        click.echo("", err=True)
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


def _pin(cpu: int) -> None:
    """Restrict this process to core ``cpu``, or fail naming the cores it may use."""
    allowed = sorted(os.sched_getaffinity(0))
    if cpu not in allowed:
        raise click.BadParameter(
            f"core {cpu} is not available to this process; choose one of {allowed}",
            param_hint="--cpu",
        )
    os.sched_setaffinity(0, {cpu})
