"""Run a benchmark: producer and consumer processes, the bare hop, then each decoder."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.bench._analysis import Phase
from rtdecode.bench._consumer import consumer_main
from rtdecode.bench._decoder import DecoderProcess
from rtdecode.bench._env import capture_environment
from rtdecode.bench._peers import BenchError, Peer, new_event
from rtdecode.bench._plot import Samples
from rtdecode.bench._producer import SEQ_STRIDE, producer_main
from rtdecode.bench._results import attach_overhead, engine_result, hop_result, step_result
from rtdecode.bench._settings import BenchSettings
from rtdecode.bench._streams import streams_hop_result, streams_result
from rtdecode.bench._trigger import measure_trigger
from rtdecode.bench._wire import FRAME_TOPIC, PRED_TOPIC, BenchKeys, free_tcp_port, free_tcp_ports

__all__ = ["SCHEMA", "run_bench"]

SCHEMA = "rtdecode-bench/1"
"""Value of the ``schema`` key of every results document."""

Progress = Callable[[str], None]


class _Rig:
    """The producer and consumer processes, shared by every measurement of one run."""

    def __init__(self, settings: BenchSettings, progress: Progress, workdir: Path) -> None:
        self.settings = settings
        self.progress = progress
        self.keys = BenchKeys.make(workdir / "keys") if settings.curve else None
        self.ready = new_event()
        self.producer = Peer(
            "producer", producer_main, self.ready, self.keys, max(settings.streams)
        )
        self.consumer = Peer("consumer", consumer_main, self.ready, self.keys)
        self.endpoints: list[str] = self.producer.reply(60.0)
        self.streamed_s = 0.0  # measured streaming, held to settings.seconds
        others = os.sched_getaffinity(0) - {settings.cpu}
        self.other_cores: set[int] | None = None  # the decoder's core is left to the decoder
        if settings.cpu is not None and others:
            self.other_cores = others
            self.producer.pin(others)
            self.consumer.pin(others)

    def close(self) -> None:
        self.producer.close()
        self.consumer.close()

    def _ticker(
        self, label: str, expected_s: float, also: Callable[[], None] | None = None
    ) -> Callable[[], None]:
        start = time.monotonic()
        self.progress(f"{label}: {0.0:5.1f}/{expected_s:.1f} s")  # each step shows, however short

        def tick() -> None:
            self.progress(f"{label}: {time.monotonic() - start:5.1f}/{expected_s:.1f} s")
            if also is not None:
                also()

        return tick

    def warmup(
        self, n: int, topic: bytes, label: str, abort: Callable[[], bool], streams: int = 1
    ) -> None:
        """Stream unmeasured frames until the consumer has seen enough ``topic`` messages of
        every stream."""
        s = self.settings
        count = 10 if topic == FRAME_TOPIC else s.warmup_predictions
        self.consumer.request(("arm", topic, count, streams), 10.0)
        tick = self._ticker(f"{label}: warming up", s.startup_timeout_s)

        def watch() -> None:
            tick()
            if abort():
                self.ready.set()

        self.producer.request(
            ("warmup", n, s.warmup_rate_hz, s.startup_timeout_s, streams),
            s.startup_timeout_s + 30,
            watch,
        )
        if abort():
            raise BenchError(f"{label}: the process under test stopped during warm-up")
        if not self.ready.is_set():
            raise BenchError(
                f"{label}: {count} {topic.decode()} messages did not arrive within "
                f"{s.startup_timeout_s:.0f} s" + (" from every stream" if streams > 1 else "")
            )
        self.consumer.request(("collect", topic), 10.0)

    def stream(
        self,
        n: int,
        rate_hz: float,
        frames: int,
        topic: bytes,
        label: str,
        on_tick: Callable[[], None] | None = None,
        streams: int = 1,
        phase: str = "locked",
    ) -> list[Phase]:
        """Stream one measured phase on ``streams`` sockets and collect what came back on
        ``topic``: one :class:`Phase` per stream, told apart by their sequence numbers.

        ``on_tick`` is called about five times a second while the phase streams.
        """
        expected = frames / rate_hz
        self.streamed_s += expected
        first, sent = self.producer.request(
            ("stream", n, rate_hz, frames, streams, phase),
            expected * 3 + 30,
            self._ticker(label, expected, on_tick),
        )
        time.sleep(self.settings.grace_s)
        seqs, received = self.consumer.request(("collect", topic), 30.0)
        return [Phase(k * SEQ_STRIDE + first, sent[k], seqs, received) for k in range(streams)]


def _phases_of(settings: BenchSettings, streams: int) -> tuple[str, ...]:
    """The stream phases measured with ``streams`` streams (one stream has no phase)."""
    return settings.stream_phases if streams > 1 else ("locked",)


def _label(what: str, n: int, streams: int) -> str:
    return f"{what} n={n}" + (f" x{streams} streams" if streams > 1 else "")


def _measure_hops(rig: _Rig, n: int, streams: int) -> dict[tuple[float, str], list[Phase]]:
    """The bare ZMQ hop, producer -> consumer, of ``streams`` streams at every rate and phase."""
    endpoints = rig.endpoints[:streams]
    label = _label("bare hop", n, streams)
    for endpoint in endpoints:
        rig.consumer.request(("listen", endpoint, FRAME_TOPIC), 10.0)
    try:
        rig.warmup(n, FRAME_TOPIC, label, lambda: False, streams)
        return {
            (rate, phase): rig.stream(
                n,
                rate,
                rig.settings.hop_frames_at(rate),
                FRAME_TOPIC,
                f"{label} {rate:g} Hz" + (f" {phase}" if streams > 1 else ""),
                streams=streams,
                phase=phase,
            )
            for rate in rig.settings.rates_hz
            for phase in _phases_of(rig.settings, streams)
        }
    finally:
        for endpoint in endpoints:
            rig.consumer.request(("unlisten", endpoint, FRAME_TOPIC), 10.0)


def _decoder_args(settings: BenchSettings) -> list[str]:
    """``rtdecode run`` options for the settings (``--quiet``: the status line costs nothing)."""
    args = ["--quiet"]
    for wanted, flag, values in (
        (settings.busy_poll, "--busy-poll", []),
        (settings.keep_warm_ms is not None, "--keep-warm-ms", [str(settings.keep_warm_ms)]),
        (settings.cpu is not None, "--cpu", [str(settings.cpu)]),
        (settings.window is not None, "--window", [str(settings.window)]),
        (settings.threads is not None, "--threads", [str(settings.threads)]),
        (settings.model is not None, "--model", [str(settings.model)]),
    ):
        if wanted:
            args += [flag, *values]
    return args


def _measure_engine(
    rig: _Rig,
    engine: str,
    n: int,
    streams: int,
    workdir: Path,
    extra: list[str],
    samples: Samples,
    view: bool = False,
    name: str | None = None,
) -> dict[str, Any]:
    """Start one decoder of ``streams`` sources, measure every rate (and phase) and, with one
    stream and the engine's own ``name``, the ceiling; stop it, read its files. With ``view``,
    one headless Chromium watches the decoder's live view meanwhile."""
    s, port, name = rig.settings, free_tcp_ports(streams), name or engine
    label = _label(name, n, streams)
    view_port = free_tcp_port() if view else 0
    extra = [*extra, "--view", f"127.0.0.1:{view_port}", "--view-linger", "0"] if view else extra
    started = time.monotonic()
    decoder = DecoderProcess(
        engine,
        rig.endpoints[:streams],
        port,
        workdir / (f"{name}-n{n}".replace("#", "-") + (f"-x{streams}" if streams > 1 else "")),
        tuple(extra),
        dict(s.decoder_env),
        rig.keys,
    )
    for sink in decoder.sinks:
        rig.consumer.request(("listen", sink, PRED_TOPIC), 10.0)
    steps: list[Phase] = []
    browser = None
    try:
        rig.warmup(n, PRED_TOPIC, label, lambda: not decoder.alive(), streams)
        startup_s = time.monotonic() - started
        if view:
            browser = _open_browser(f"http://127.0.0.1:{view_port}/", rig.other_cores)
        first_usage = decoder.usage()
        phases = _measure_phases(rig, decoder, n, streams, label, first_usage)
        if streams == 1 and name == engine:  # the view's arms are measured at the rates only
            steps = _ceiling(rig, n, label)
        last_usage = decoder.usage()
        for (rate, phase), (got, _, _) in phases.items():
            path = name if streams == 1 else f"{engine} x{streams} {phase}"
            samples[(path, n, rate)] = np.concatenate([p.latencies_ns() for p in got])
    except BenchError as exc:
        if decoder.alive():
            raise
        raise BenchError(
            f"{label}: the decoder exited early; its log ends with:\n{decoder.log_tail()}"
        ) from exc
    finally:
        if browser is not None:
            browser.close()
        exit_code = decoder.stop()
        for sink in decoder.sinks:
            rig.consumer.request(("unlisten", sink, PRED_TOPIC), 10.0)
    if streams > 1:
        return streams_result(
            engine=engine,
            neurons=n,
            decoder=decoder,
            exit_code=exit_code,
            startup_s=startup_s,
            phases=phases,
            usage=(first_usage, last_usage),
            settings=s,
        )
    return engine_result(
        engine=engine,
        neurons=n,
        decoder=decoder,
        exit_code=exit_code,
        startup_s=startup_s,
        phases={rate: (got[0], cpu, growth) for (rate, _), (got, cpu, growth) in phases.items()},
        steps=steps,
        usage=(first_usage, last_usage),
        settings=s,
    )


def _measure_phases(
    rig: _Rig, decoder: DecoderProcess, n: int, streams: int, label: str, first_usage: Any
) -> dict[tuple[float, str], tuple[list[Phase], float, float]]:
    """Every rate (and phase, with several streams): its steps, the decoder's CPU % and its
    memory growth since the warm-up (MiB)."""
    s = rig.settings
    phases: dict[tuple[float, str], tuple[list[Phase], float, float]] = {}
    for rate in s.rates_hz:
        for phase in _phases_of(s, streams):
            before, wall = decoder.usage(), time.perf_counter()
            got = rig.stream(
                n,
                rate,
                s.frames_at(rate),
                PRED_TOPIC,
                f"{label} {rate:g} Hz" + (f" {phase}" if streams > 1 else ""),
                decoder.trace_rss,
                streams,
                phase,
            )
            after = decoder.usage()
            cpu = 100.0 * (after.cpu_s - before.cpu_s) / (time.perf_counter() - wall)
            growth = (after.rss_bytes - first_usage.rss_bytes) / 2**20
            phases[(rate, phase)] = (got, cpu, growth)
    return phases


def _ceiling(rig: _Rig, n: int, label: str) -> list[Phase]:
    """The ceiling steps that fit the search's share of ``--seconds``: faster rates until one
    is not sustained."""
    steps: list[Phase] = []
    for rate, frames in rig.settings.ceiling_steps():
        (step,) = rig.stream(n, rate, frames, PRED_TOPIC, f"{label} ceiling {rate:g} Hz")
        steps.append(step)
        if not step_result(step, rate)["sustained"]:
            break
    return steps


def _open_browser(url: str, cores: set[int] | None) -> Any:
    """Headless Chromium on the decoder's view (see :class:`rtdecode.view._client.BrowserClient`),
    on ``cores`` when the decoder is pinned (``--cpu``): the producer's and consumer's, as
    ``taskset`` would put a browser on the rig's machine, or a browser on another machine."""
    from rtdecode.errors import RtdecodeError
    from rtdecode.view._client import BrowserClient

    try:
        return BrowserClient(url, cores=cores)
    except (RtdecodeError, RuntimeError) as exc:
        raise BenchError(f"--view: {exc}") from exc


SECOND_PASS = "#2"
"""Suffix of the engine names of the view's second pass (``numba+view#2``, ``numba#2``)."""


def _view_arms(
    rig: _Rig, engine: str, n: int, workdir: Path, extra: list[str], samples: Samples
) -> list[dict[str, Any]]:
    """After the engine alone: with the view, with it again, then alone again (ABBA).

    Each decoder measured later in a run sees a machine in another state (caches, other
    work): in three runs of one pair with the view but no browser, the first decoder was the
    slower each time. Two pairs in opposite orders cancel a steady drift: :func:`view_cost`
    reports each pair and their geometric mean."""
    arms = []
    for view, name in (
        (True, f"{engine}+view"),
        (True, f"{engine}+view{SECOND_PASS}"),
        (False, f"{engine}{SECOND_PASS}"),
    ):
        try:
            arm = _measure_engine(rig, engine, n, 1, workdir, extra, samples, view=view, name=name)
        except BenchError as exc:
            arm = {"engine": engine, "neurons": n, "error": str(exc)}
        arm["engine"] = name
        arms.append(arm)
    return arms


def view_cost(engines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Decoder-added latency with the view and one browser against without, per engine,
    neuron count, rate and pass (pass 1: without, then with; pass 2: with, then without; all
    in this run), and a row per engine, neuron count and rate with the geometric mean of the
    two passes' ratios (``pass`` ``"both"``)."""
    measured = {(e["engine"], e["neurons"]): e for e in engines if e.get("rates")}
    rows = []
    for (name, n), viewed in measured.items():
        second = name.endswith(SECOND_PASS)
        base_name = name.removesuffix(SECOND_PASS)
        if not base_name.endswith("+view"):
            continue
        engine = base_name.removesuffix("+view")
        plain = measured.get((engine + (SECOND_PASS if second else ""), n))
        if plain is None:
            continue
        base = {r["rate_hz"]: r for r in plain["rates"]}
        for rate in viewed["rates"]:
            without = (base.get(rate["rate_hz"]) or {}).get("stages_us", {}).get("decoder")
            with_view = rate.get("stages_us", {}).get("decoder")
            if not without or not with_view:
                continue
            row: dict[str, Any] = {
                "engine": engine,
                "neurons": n,
                "rate_hz": rate["rate_hz"],
                "pass": 2 if second else 1,
            }
            for q in ("p50", "p99"):
                row[f"{q}_us"] = {"without": without[q], "with_view": with_view[q]}
                row[f"{q}_ratio"] = round(with_view[q] / without[q], 3) if without[q] else None
            rows.append(row)
    return rows + _both_passes(rows)


def _both_passes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The geometric mean of the two passes' ratios, where both were measured."""
    pairs: dict[tuple[str, int, float], list[dict[str, Any]]] = {}
    for row in rows:
        pairs.setdefault((row["engine"], row["neurons"], row["rate_hz"]), []).append(row)
    out = []
    for (engine, n, rate), got in pairs.items():
        if len(got) != 2:
            continue
        row = {"engine": engine, "neurons": n, "rate_hz": rate, "pass": "both"}
        for q in ("p50", "p99"):
            ratios = [r[f"{q}_ratio"] for r in got]
            ok = all(ratios)
            row[f"{q}_ratio"] = round(float(np.sqrt(ratios[0] * ratios[1])), 3) if ok else None
        out.append(row)
    return out


def _reported(summary: dict[str, Any]) -> dict[str, Any]:
    """What a decoder's summary says about how it ran; each stream's source with several."""
    per_stream = summary.get("streams") if isinstance(summary.get("streams"), list) else None
    first = per_stream[0] if per_stream else summary
    reported = {key: summary.get(key, first.get(key)) for key in ("engine", "window", "states")}
    reported["source"] = (
        [s.get("source") for s in per_stream] if per_stream else summary.get("source")
    )
    return reported


def _engine_settings(
    extra: list[str], env: dict[str, str], engines: list[dict[str, Any]]
) -> dict[str, Any]:
    """How the decoders were run: their options, thread variables, and what they reported."""
    threads = {k: v for k, v in {**os.environ, **env}.items() if k.endswith("_NUM_THREADS")}
    reported = {
        _label(e["engine"], e["neurons"], e.get("streams", 1)): _reported(e["decoder_summary"])
        for e in engines
        if e.get("decoder_summary")
    }
    return {
        "decoder_args": extra,
        "decoder_env": env,
        "thread_variables": threads,
        "decoders": reported,
    }


def _not_measured(settings: BenchSettings) -> list[str]:
    """What the settings ask for that a several-stream measurement does not give."""
    if max(settings.streams) > 1 and settings.ceiling_rates_hz:
        return ["--streams K > 1: the throughput ceiling is searched with one stream only"]
    return []


def run_bench(
    settings: BenchSettings, workdir: Path, progress: Progress | None = None
) -> tuple[dict[str, Any], Samples]:
    """Run every measurement the settings ask for and return the results document.

    Parameters
    ----------
    settings
        What to measure.
    workdir
        Where the decoders' session files, summaries and logs go.
    progress
        Called about five times a second with a one-line status.

    Returns
    -------
    results : dict
        JSON-ready results; keys are documented in docs/benchmarking.md.
    samples : dict
        Raw end-to-end latencies (ns) per path, neuron count and rate, for plotting.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda _line: None)
    extra = _decoder_args(settings)
    hops: list[dict[str, Any]] = []
    engines: list[dict[str, Any]] = []
    samples: Samples = {}
    rig = _Rig(settings, report, workdir)
    try:
        for n in settings.neurons:
            for streams in settings.streams:
                for (rate, phase), got in _measure_hops(rig, n, streams).items():
                    if streams > 1:
                        hops.append(streams_hop_result(n, rate, phase, got))
                        continue
                    hops.append(hop_result(n, rate, got[0]))
                    samples[("bare hop", n, rate)] = got[0].latencies_ns()
                for engine in settings.engines:
                    try:
                        result = _measure_engine(rig, engine, n, streams, workdir, extra, samples)
                    except BenchError as exc:
                        result = {"engine": engine, "neurons": n, "error": str(exc)}
                        if streams > 1:
                            result["streams"] = streams
                    engines.append(result)
                    if settings.view and streams == 1:
                        engines += _view_arms(rig, engine, n, workdir, extra, samples)
    finally:
        streamed_s = rig.streamed_s
        rig.close()
    attach_overhead(engines, hops)
    report("trigger path: 2,000 pulses into an emulated device on a pty")
    trigger = measure_trigger()
    results = {
        "schema": SCHEMA,
        "settings": settings.to_dict(),
        "environment": capture_environment(
            _engine_settings(extra, dict(settings.decoder_env), engines)
        ),
        "hops": hops,
        "engines": engines,
        "trigger": trigger,
        "view": view_cost(engines) if settings.view else None,
        "missing": _not_measured(settings),
        "budget": {
            "seconds": settings.seconds,
            "share_s": round(settings.phase_s(), 3),
            "streamed_s": round(streamed_s, 3),
        },
    }
    return results, samples
