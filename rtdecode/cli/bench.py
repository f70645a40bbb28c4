"""``rtdecode bench``: latency of the live path, per stage and end to end, engines side by side."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

import click

from rtdecode._optional import import_optional
from rtdecode.bench import (
    STREAM_PHASES,
    BenchSettings,
    format_table,
    plot_results,
    run_bench,
)
from rtdecode.cli._progress import progress_option, status_line
from rtdecode.errors import RtdecodeError

__all__ = ["bench"]


def _all_engines() -> tuple[tuple[str, ...], list[str]]:
    """Every engine the engines package lists that can run here, and why others cannot."""
    from rtdecode.engines import ENGINES

    usable, skipped = [], []
    for name in ENGINES:
        reason = _unusable(name)
        if reason is None:
            usable.append(name)
        else:
            skipped.append(f"engine '{name}' skipped by --engine all: {reason}")
    return tuple(usable), skipped


def _unusable(engine: str) -> str | None:
    """Why ``engine`` cannot run on this machine, or ``None`` when it may."""
    if engine == "onnx" and importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed (pip install 'rtdecode[onnx]')"
    if engine == "cuda":
        import torch

        if not torch.cuda.is_available():
            return "no NVIDIA GPU visible to torch on this machine"
    return None


def _checked(
    cpu: int | None, keep_warm_ms: float | None, keep_warm_old: float | None
) -> float | None:
    """Refuse a core that is not available; the keep-warm period (the deprecated spelling
    warns)."""
    if cpu is not None and cpu not in os.sched_getaffinity(0):
        raise click.BadParameter(
            f"core {cpu} is not available here; choose one of {sorted(os.sched_getaffinity(0))}",
            param_hint="--cpu",
        )
    if keep_warm_old is not None:
        click.echo("warning: --keep-warm is deprecated; use --keep-warm-ms", err=True)
        return keep_warm_old if keep_warm_ms is None else keep_warm_ms
    return keep_warm_ms


def _parse_env(items: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(
                f"expected NAME=VALUE, got {item!r}", param_hint="--decoder-env"
            )
        pairs.append((name, value))
    return tuple(pairs)


@click.command()
@click.option(
    "--engine",
    "engines",
    multiple=True,
    default=("all",),
    show_default=True,
    help="Engine to measure (repeatable); 'all' measures every engine.",
)
@click.option(
    "--neurons",
    multiple=True,
    type=click.IntRange(min=1),
    default=(150,),
    show_default=True,
    help="Neurons per frame (repeatable).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Engine intra-op threads, passed to `rtdecode run --threads` (default: its default).",
)
@click.option(
    "--model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Model file to decode with (default: the shipped model).",
)
@click.option(
    "--window",
    type=click.IntRange(min=1),
    default=None,
    help="Decoder window in frames (default: the model's).",
)
@click.option(
    "--rate",
    "rates",
    multiple=True,
    type=click.FloatRange(min=0, min_open=True),
    default=(10.0, 1000.0),
    show_default=True,
    help="Frame rate in Hz (repeatable).",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds streamed in the whole run, ceiling search included: split into equal "
    "shares, one per measured rate (of the bare hop and of each engine, per --neurons and "
    "--streams) and one per ceiling search; a rate whose --min-frames take longer than its "
    "share gets them, and the others share the rest. Start-up and warm-up come on top.",
)
@click.option(
    "--min-frames",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Fewest frames measured per rate.",
)
@click.option(
    "--deadline-ms",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Predictions later than this after their frame was sent are deadline misses.",
)
@click.option(
    "--busy-poll",
    is_flag=True,
    help="Run the decoder with --busy-poll (spins a core, avoids the idle penalty).",
)
@click.option(
    "--keep-warm-ms",
    "keep_warm_ms",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="MS",
    help="Run the decoder with --keep-warm-ms MS (a discarded forward every MS while idle).",
)
@click.option(
    "--keep-warm",
    "keep_warm_old",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    hidden=True,
    help="Deprecated spelling of --keep-warm-ms.",
)
@click.option(
    "--cpu",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Run the decoder with --cpu N (pinned to core N), and the bench's producer and "
    "consumer (and, with --view, the browser; with --flood, the senders) on the other cores.",
)
@click.option(
    "--streams",
    multiple=True,
    type=click.IntRange(min=1),
    default=(1,),
    show_default=True,
    metavar="K",
    help="Streams into one decoder (repeatable: one measurement each); K > 1 reports every stream.",
)
@click.option(
    "--stream-phase",
    "stream_phases",
    multiple=True,
    type=click.Choice(STREAM_PHASES),
    default=("locked",),
    show_default=True,
    help="With --streams K > 1: the K frames of a period sent together (locked, the worst case) "
    "or spread evenly over it (staggered); repeatable to measure both.",
)
@click.option(
    "--flood",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="F",
    help="Measure a flooding neighbour instead: --streams K calm streams at the lowest --rate "
    "and F more streams flooding into one decoder, calm phase then flood phase, --seconds "
    "split between them; one engine (--engine all means numba). See docs/rig-behaviour.md.",
)
@click.option(
    "--flood-rate",
    type=click.FloatRange(min=0),
    default=1000.0,
    show_default=True,
    metavar="HZ",
    help="With --flood: each flooding stream's frame rate; 0 sends as fast as the decoder "
    "takes them (its socket always full).",
)
@click.option(
    "--flood-neurons",
    type=click.IntRange(min=1),
    default=2048,
    show_default=True,
    metavar="N",
    help="With --flood: neurons per flooding frame.",
)
@click.option(
    "--decoder-env",
    multiple=True,
    metavar="NAME=VALUE",
    help="Environment variable for the decoder process only, e.g. OMP_NUM_THREADS=1 (repeatable).",
)
@click.option(
    "--ceiling/--no-ceiling",
    default=True,
    show_default=True,
    help="Step the rate up to find the throughput ceiling.",
)
@click.option(
    "--curve",
    is_flag=True,
    help="Encrypt and authenticate every hop with ZeroMQ CURVE keys, to measure their cost.",
)
@click.option(
    "--view",
    is_flag=True,
    help="Measure each engine with the live view served (--view) and one headless Chromium on "
    "the page, twice, then alone again (ABBA): the view's cost, side by side, in both orders "
    "(needs the view extra, Playwright and the chromium package).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write results and environment as JSON here.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw latency CDFs and the stage breakdown to this PNG (needs the plot extra).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the decoders' session files, summaries and logs here (default: a temporary folder).",
)
@progress_option
def bench(
    engines: tuple[str, ...],
    neurons: tuple[int, ...],
    threads: int | None,
    model: Path | None,
    window: int | None,
    rates: tuple[float, ...],
    seconds: float,
    min_frames: int,
    deadline_ms: float,
    busy_poll: bool,
    keep_warm_ms: float | None,
    keep_warm_old: float | None,
    cpu: int | None,
    streams: tuple[int, ...],
    stream_phases: tuple[str, ...],
    flood: int,
    flood_rate: float,
    flood_neurons: int,
    decoder_env: tuple[str, ...],
    ceiling: bool,
    curve: bool,
    view: bool,
    json_path: Path | None,
    plot_path: Path | None,
    workdir: Path | None,
) -> None:
    """Measure decoding latency through real ZMQ: producer -> `rtdecode run` -> consumer.

    Prints a summary table; docs/benchmarking.md says how to read it.
    """
    keep_warm_ms = _checked(cpu, keep_warm_ms, keep_warm_old)
    if flood:
        return _flood(
            engines, streams, rates, (flood, flood_rate, flood_neurons), seconds, json_path, cpu
        )
    names, skipped = _all_engines() if "all" in engines else (tuple(dict.fromkeys(engines)), [])
    status = status_line()
    try:
        if plot_path is not None:  # fail before minutes of measuring, not after
            import_optional("matplotlib", "plot", "rtdecode bench --plot")
        settings = BenchSettings(
            engines=names,
            neurons=tuple(dict.fromkeys(neurons)),
            rates_hz=tuple(dict.fromkeys(rates)),
            seconds=seconds,
            min_frames=min_frames,
            deadline_ms=deadline_ms,
            busy_poll=busy_poll,
            keep_warm_ms=keep_warm_ms,
            cpu=cpu,
            streams=tuple(dict.fromkeys(streams)),
            stream_phases=tuple(dict.fromkeys(stream_phases)),
            decoder_env=_parse_env(decoder_env),
            window=window,
            threads=threads,
            model=None if model is None else str(model.resolve()),
            ceiling_rates_hz=BenchSettings().ceiling_rates_hz if ceiling else (),
            curve=curve,
            view=view,
        )
        with tempfile.TemporaryDirectory(prefix="rtdecode-bench-") as scratch:
            results, samples = run_bench(settings, workdir or Path(scratch), status)
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        status.done()
    results["missing"] = skipped + results["missing"]
    results["command"] = (
        ["rtdecode", "bench", *sys.argv[2:]] if sys.argv[1:2] == ["bench"] else None
    )
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2) + "\n")
    if plot_path is not None:
        plot_results(results, samples, plot_path)
    click.echo(format_table(results))
    for path in (json_path, plot_path):
        if path is not None:
            click.echo(f"wrote {path}")


def _flood(
    engines: tuple[str, ...],
    streams: tuple[int, ...],
    rates: tuple[float, ...],
    flooding: tuple[int, float, int],
    seconds: float,
    json_path: Path | None,
    cpu: int | None,
) -> None:
    """``--flood``: the calm streams' latency with the flooding streams off and on."""
    flood, flood_rate, flood_neurons = flooding
    from rtdecode.bench import FloodSettings, format_flood, run_flood

    named = [e for e in dict.fromkeys(engines) if e != "all"]
    if len(named) > 1:
        raise click.BadParameter("--flood measures one engine", param_hint="--engine")
    status = status_line()
    try:
        settings = FloodSettings(
            engine=named[0] if named else "numba",
            calm=max(streams),
            flood=flood,
            rate_hz=min(rates),
            flood_rate_hz=flood_rate,
            flood_neurons=flood_neurons,
            seconds=seconds / 2,
            cpu=cpu,
        )
        results = run_flood(settings, status)
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        status.done()
    results["command"] = (
        ["rtdecode", "bench", *sys.argv[2:]] if sys.argv[1:2] == ["bench"] else None
    )
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2) + "\n")
    click.echo(format_flood(results))
    if json_path is not None:
        click.echo(f"wrote {json_path}")
