"""Run a benchmark: producer and consumer processes, the bare hop, then each decoder."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rtdecode.bench._analysis import Phase
from rtdecode.bench._consumer import consumer_main
from rtdecode.bench._decoder import DecoderProcess
from rtdecode.bench._env import capture_environment
from rtdecode.bench._peers import BenchError, Peer, new_event
from rtdecode.bench._plot import Samples
from rtdecode.bench._producer import producer_main
from rtdecode.bench._results import attach_overhead, engine_result, hop_result, step_result
from rtdecode.bench._settings import BenchSettings
from rtdecode.bench._wire import FRAME_TOPIC, PRED_TOPIC, free_tcp_port

__all__ = ["SCHEMA", "run_bench"]

SCHEMA = "rtdecode-bench/1"
"""Value of the ``schema`` key of every results document."""

Progress = Callable[[str], None]


class _Rig:
    """The producer and consumer processes, shared by every measurement of one run."""

    def __init__(self, settings: BenchSettings, progress: Progress) -> None:
        self.settings = settings
        self.progress = progress
        self.ready = new_event()
        self.producer = Peer("producer", producer_main, self.ready)
        self.consumer = Peer("consumer", consumer_main, self.ready)
        self.endpoint: str = self.producer.reply(60.0)

    def close(self) -> None:
        self.producer.close()
        self.consumer.close()

    def _ticker(
        self, label: str, expected_s: float, also: Callable[[], None] | None = None
    ) -> Callable[[], None]:
        start = time.monotonic()

        def tick() -> None:
            self.progress(f"{label}: {time.monotonic() - start:5.1f}/{expected_s:.1f} s")
            if also is not None:
                also()

        return tick

    def warmup(self, n: int, topic: bytes, label: str, abort: Callable[[], bool]) -> None:
        """Stream unmeasured frames until the consumer has seen enough ``topic`` messages."""
        s = self.settings
        count = 10 if topic == FRAME_TOPIC else s.warmup_predictions
        self.consumer.request(("arm", topic, count), 10.0)
        tick = self._ticker(f"{label}: warming up", s.startup_timeout_s)

        def watch() -> None:
            tick()
            if abort():
                self.ready.set()

        self.producer.request(
            ("warmup", n, s.warmup_rate_hz, s.startup_timeout_s), s.startup_timeout_s + 30, watch
        )
        if abort():
            raise BenchError(f"{label}: the process under test stopped during warm-up")
        if not self.ready.is_set():
            raise BenchError(
                f"{label}: no {topic.decode()} message arrived within {s.startup_timeout_s:.0f} s"
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
    ) -> Phase:
        """Stream one measured phase and collect what came back on ``topic``.

        ``on_tick`` is called about five times a second while the phase streams.
        """
        expected = frames / rate_hz
        first, sent = self.producer.request(
            ("stream", n, rate_hz, frames),
            expected * 3 + 30,
            self._ticker(label, expected, on_tick),
        )
        time.sleep(self.settings.grace_s)
        seqs, received = self.consumer.request(("collect", topic), 30.0)
        return Phase(first, sent, seqs, received)


def _measure_hops(rig: _Rig, n: int) -> dict[float, Phase]:
    """The bare ZMQ hop, producer -> consumer, at every rate."""
    rig.consumer.request(("listen", rig.endpoint, FRAME_TOPIC), 10.0)
    try:
        rig.warmup(n, FRAME_TOPIC, f"bare hop n={n}", lambda: False)
        return {
            rate: rig.stream(
                n,
                rate,
                rig.settings.hop_frames_at(rate),
                FRAME_TOPIC,
                f"bare hop n={n} {rate:g} Hz",
            )
            for rate in rig.settings.rates_hz
        }
    finally:
        rig.consumer.request(("unlisten", rig.endpoint, FRAME_TOPIC), 10.0)


def _decoder_args(settings: BenchSettings) -> list[str]:
    """``rtdecode run`` options for the settings (``--quiet``: the status line costs nothing)."""
    args = ["--quiet"]
    for wanted, flag, values in (
        (settings.busy_poll, "--busy-poll", []),
        (settings.window is not None, "--window", [str(settings.window)]),
        (settings.threads is not None, "--threads", [str(settings.threads)]),
        (settings.model is not None, "--model", [str(settings.model)]),
    ):
        if wanted:
            args += [flag, *values]
    return args


def _measure_engine(
    rig: _Rig, engine: str, n: int, workdir: Path, extra: list[str], samples: Samples
) -> dict[str, Any]:
    """Start one decoder, measure every rate and the ceiling, stop it, read its files."""
    s = rig.settings
    port = free_tcp_port()
    sink = f"tcp://127.0.0.1:{port}"
    label = f"{engine} n={n}"
    rig.consumer.request(("listen", sink, PRED_TOPIC), 10.0)
    started = time.monotonic()
    decoder = DecoderProcess(
        engine, rig.endpoint, port, workdir / f"{engine}-n{n}", tuple(extra), dict(s.decoder_env)
    )
    phases: dict[float, tuple[Phase, float, float]] = {}
    steps: list[Phase] = []
    try:
        rig.warmup(n, PRED_TOPIC, label, lambda: not decoder.alive())
        startup_s = time.monotonic() - started
        first_usage = decoder.usage()
        for rate in s.rates_hz:
            before, wall = decoder.usage(), time.perf_counter()
            phase = rig.stream(
                n, rate, s.frames_at(rate), PRED_TOPIC, f"{label} {rate:g} Hz", decoder.trace_rss
            )
            after = decoder.usage()
            cpu = 100.0 * (after.cpu_s - before.cpu_s) / (time.perf_counter() - wall)
            phases[rate] = (phase, cpu, (after.rss_bytes - first_usage.rss_bytes) / 2**20)
        for rate in s.ceiling_rates_hz:
            frames = max(round(rate * s.ceiling_step_s), s.min_frames)
            step = rig.stream(n, rate, frames, PRED_TOPIC, f"{label} ceiling {rate:g} Hz")
            steps.append(step)
            if not step_result(step, rate)["sustained"]:
                break
        last_usage = decoder.usage()
        for rate, (phase, _, _) in phases.items():
            samples[(engine, n, rate)] = phase.latencies_ns()
    except BenchError as exc:
        if decoder.alive():
            raise
        raise BenchError(
            f"{label}: the decoder exited early; its log ends with:\n{decoder.log_tail()}"
        ) from exc
    finally:
        exit_code = decoder.stop()
        rig.consumer.request(("unlisten", sink, PRED_TOPIC), 10.0)
    return engine_result(
        engine=engine,
        neurons=n,
        decoder=decoder,
        exit_code=exit_code,
        startup_s=startup_s,
        phases=phases,
        steps=steps,
        usage=(first_usage, last_usage),
        settings=s,
    )


def _engine_settings(
    extra: list[str], env: dict[str, str], engines: list[dict[str, Any]]
) -> dict[str, Any]:
    """How the decoders were run: their options, thread variables, and what they reported."""
    threads = {k: v for k, v in {**os.environ, **env}.items() if k.endswith("_NUM_THREADS")}
    reported = {
        f"{e['engine']} n={e['neurons']}": {
            key: e["decoder_summary"].get(key) for key in ("engine", "window", "states", "source")
        }
        for e in engines
        if e.get("decoder_summary")
    }
    return {
        "decoder_args": extra,
        "decoder_env": env,
        "thread_variables": threads,
        "decoders": reported,
    }


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
        JSON-ready results; keys are documented in the README's benchmark section.
    samples : dict
        Raw end-to-end latencies (ns) per path, neuron count and rate, for plotting.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda _line: None)
    extra = _decoder_args(settings)
    hops: list[dict[str, Any]] = []
    engines: list[dict[str, Any]] = []
    samples: Samples = {}
    rig = _Rig(settings, report)
    try:
        for n in settings.neurons:
            hop_phases = _measure_hops(rig, n)
            for rate, phase in hop_phases.items():
                hops.append(hop_result(n, rate, phase))
                samples[("bare hop", n, rate)] = phase.latencies_ns()
            for engine in settings.engines:
                try:
                    result = _measure_engine(rig, engine, n, workdir, extra, samples)
                except BenchError as exc:
                    result = {"engine": engine, "neurons": n, "error": str(exc)}
                engines.append(result)
    finally:
        rig.close()
    attach_overhead(engines, hops)
    results = {
        "schema": SCHEMA,
        "settings": settings.to_dict(),
        "environment": capture_environment(
            _engine_settings(extra, dict(settings.decoder_env), engines)
        ),
        "hops": hops,
        "engines": engines,
        "missing": [],
    }
    return results, samples
