"""``rtdecode run``: decode a live stream and publish predictions until stopped."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from rtdecode.cli._options import engine_option, model_option, threads_option
from rtdecode.cli._report import format_status, format_summary
from rtdecode.cli._signals import stop_on_signals
from rtdecode.engines import load_engine
from rtdecode.errors import RtdecodeError
from rtdecode.stream import Pipeline, open_sink, open_source, parse_address

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
@click.option("--raw-fluorescence", is_flag=True, help="Input is raw F: decode dF/F (baseline).")
@click.option("--frame-interval", type=float, help="Seconds per frame (default: measured).")
@click.option("--resolve-timeout", default=10.0, show_default=True, help="LSL look-up, s.")
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
    keep_warm_ms: float | None,
    cpu: int | None,
    decode_every_frame: bool,
    raw_fluorescence: bool,
    frame_interval: float | None,
    resolve_timeout: float,
    threads: int,
    quiet: bool,
) -> None:
    """Decode behaviour from a live stream until Ctrl-C, SIGTERM or --max-frames.

    Prints a summary at the end: frames, predictions, drops, gaps, malformed messages, NaN
    values and latency percentiles per stage.
    """
    if cpu is not None:
        _pin(cpu)
    try:
        attrs = {"source": source, "model": str(model or "default"), "engine": engine_name}
        stream = open_source(source, resolve_timeout=resolve_timeout)  # bad addresses fail fast
        lsl_in = parse_address(source).kind == "lsl"  # frame times are on LSL's clock
        outputs = [open_sink(uri, attrs, lsl_frame_times=lsl_in) for uri in sinks]
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
            keep_warm_s=None if keep_warm_ms is None else keep_warm_ms / 1e3,
        )
        click.echo(f"decoding {source} -> {', '.join(sinks) or 'no sink'} (Ctrl-C stops)", err=True)
        with stop_on_signals(pipeline.stop):
            summary = pipeline.run()
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    if not quiet:
        click.echo("", err=True)
    click.echo(format_summary(summary))
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary, indent=2))


def _pin(cpu: int) -> None:
    """Restrict this process to core ``cpu``, or fail naming the cores it may use."""
    allowed = sorted(os.sched_getaffinity(0))
    if cpu not in allowed:
        raise click.BadParameter(
            f"core {cpu} is not available to this process; choose one of {allowed}",
            param_hint="--cpu",
        )
    os.sched_setaffinity(0, {cpu})
