"""``rtdecode run``: decode a live stream and publish predictions until stopped."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from rtdecode.cli._options import engine_option, model_option, threads_option
from rtdecode.cli._report import format_status, format_summary
from rtdecode.cli._signals import stop_on_signals
from rtdecode.engines import load_engine
from rtdecode.errors import RtdecodeError
from rtdecode.stream import (
    BehaviorReceiver,
    BehaviorTrack,
    Pipeline,
    open_sink,
    open_source,
    parse_address,
)

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
    "--busy-poll", is_flag=True, help="Spin instead of sleeping: lower latency, one core."
)
@click.option(
    "--decode-every-frame",
    is_flag=True,
    help="Never skip frames when behind: latency grows instead, until the bounded input queue "
    "(1,000 messages) overflows and drops.",
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
@threads_option
@click.option("--quiet", is_flag=True, help="No live status line.")
def run(
    source: str,
    sinks: tuple[str, ...],
    model: Path | None,
    engine_name: str,
    window: int | None,
    max_frames: int | None,
    summary_json: Path | None,
    busy_poll: bool,
    decode_every_frame: bool,
    raw_fluorescence: bool,
    frame_interval: float | None,
    resolve_timeout: float,
    behavior_source: str | None,
    behavior_max_age: float,
    threads: int,
    quiet: bool,
) -> None:
    """Decode behaviour from a live stream until Ctrl-C, SIGTERM or --max-frames.

    Prints a summary at the end: frames, predictions, drops, gaps, malformed messages, NaN
    values, the tracked behaviour's counters and latency percentiles per stage.
    """
    try:
        attrs = {"source": source, "model": str(model or "default"), "engine": engine_name}
        stream = open_source(source, resolve_timeout=resolve_timeout)  # bad addresses fail fast
        lsl_in = parse_address(source).kind == "lsl"  # frame times are on LSL's clock
        outputs = [open_sink(uri, attrs, lsl_frame_times=lsl_in) for uri in sinks]
        track = BehaviorTrack(behavior_max_age, uri=behavior_source or source)
        receiver = None
        if behavior_source is None:
            stream.behavior = track
        else:
            receiver = BehaviorReceiver(behavior_source, track, resolve_timeout=resolve_timeout)
        engine = load_engine(model, engine_name)
        if window is not None:
            engine.window = window  # prepare() sizes the engine's buffers from it
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
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary, indent=2))
