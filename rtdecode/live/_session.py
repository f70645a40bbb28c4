"""``open_session(config)``: the one place a live session is assembled.

``rtdecode run``, ``rtdecode demo``, the benchmark (through ``rtdecode run``), the tools and
the tests build sessions here: sources and sinks from their addresses, the engine, one
:class:`~rtdecode.live.StreamProcessor` per stream with its post-inference chain (head,
decision, actuator, sinks, taps), and the :class:`~rtdecode.live.Runner` over them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rtdecode.errors import ConfigError
from rtdecode.live._calibrating import LiveCalibration
from rtdecode.live._chain import DecisionStep, PostInference, Tap
from rtdecode.live._config import RunConfig
from rtdecode.live._processor import StreamProcessor
from rtdecode.live._runner import Runner
from rtdecode.log import get_logger
from rtdecode.preprocess import BaselineConfig
from rtdecode.stream import (
    BehaviorReceiver,
    BehaviorTrack,
    SessionFile,
    Sink,
    Source,
    open_sink,
    open_source,
    stream_address,
)

if TYPE_CHECKING:
    from rtdecode.calibration import CrossModel
    from rtdecode.engines import Engine
    from rtdecode.trigger import TriggerController

__all__ = ["Session", "open_session"]

_log = get_logger(__name__)


@dataclass
class Session:
    """A live session, ready to :meth:`run` (made by :func:`open_session`).

    Attributes
    ----------
    config
        What it was built from.
    runner
        The loop over the streams.
    streams
        One processor per stream (``runner.streams``).
    controller
        The closed loop of stream 1, or ``None``.
    receiver
        The behaviour's own stream (``behavior.source``), or ``None``.
    """

    config: RunConfig
    runner: Runner
    controller: TriggerController | None = None
    receiver: BehaviorReceiver | None = None
    streams: list[StreamProcessor] = field(default_factory=list)

    def run(self) -> dict[str, Any]:
        """Run until :meth:`stop`, ``max_frames`` or the end of the sources; the summary."""
        if self.receiver is not None:
            self.receiver.start()
        try:
            return self.runner.run()
        finally:
            if self.receiver is not None:
                self.receiver.stop()

    def stop(self) -> None:
        """Ask :meth:`run` to finish (thread- and signal-safe)."""
        self.runner.stop()


def open_session(
    config: RunConfig,
    *,
    engine: Engine | None = None,
    sources: Sequence[Source] | None = None,
    sinks: Sequence[Sequence[Sink]] = (),
    taps: Sequence[Tap] = (),
    on_status: Callable[[Runner], None] | None = None,
    on_open: Callable[[int, StreamProcessor], None] | None = None,
) -> Session:
    """Build a live session from ``config``; bad addresses and settings fail here, fast.

    Parameters
    ----------
    config
        The session's configuration.
    engine
        The decoder (default: ``config.decoder.model`` in ``config.decoder.engine``).
    sources
        Sources to use instead of opening ``config.source.addresses`` (one per stream).
    sinks
        More sinks per stream (``sinks[k]`` for stream k), after those of
        ``config.source.sinks``.
    taps
        Stream 1's taps (:class:`~rtdecode.live.Tap`), off the critical path; another
        stream's go in its ``chain.taps`` before :meth:`Session.run`.
    on_status
        Called with the runner about every second.
    on_open
        Called with a stream's index (0-based) and processor once its sinks are open and its
        source started (a stream that fails to start is never announced).

    Returns
    -------
    Session
        Not started: :meth:`Session.run` opens the sinks and starts the sources.
    """
    decoder = config.decoder
    if decoder.cpu is not None:
        _pin(decoder.cpu)
    uris = list(config.source.addresses) if sources is None else [s.uri for s in sources]
    if not uris:
        raise ConfigError("no source: give at least one --source (or [source] addresses)")
    several = len(uris) > 1
    opened = [
        _open_stream(config, uri, k, None if sources is None else sources[k - 1])
        for k, uri in enumerate(uris, 1)
    ]
    for k, extra in enumerate(sinks):
        opened[k][1].extend(extra)
    controller = None  # before the model loads: a missing device is named in a second
    if config.policy is not None:
        controller = _controller(config, opened[0][0])
    if engine is None:
        engine = _load_engine(config)
    if decoder.window is not None:
        engine.window = decoder.window  # prepare() sizes the engine's buffers from it
    streams = [
        _processor(
            config,
            source,
            engine.for_stream() if several else engine,
            outputs,
            track,
            controller if k == 0 else None,
            taps if k == 0 else (),
        )
        for k, (source, outputs, track) in enumerate(opened)
    ]
    receiver = None
    if config.behavior.source is not None:
        receiver = BehaviorReceiver(
            config.behavior.source, opened[0][2], resolve_timeout=config.source.resolve_timeout_s
        )
    runner = Runner(
        streams, engine, busy_poll=decoder.busy_poll, on_status=on_status, on_open=on_open
    )
    return Session(config, runner, controller, receiver, streams)


def _open_stream(
    config: RunConfig, uri: str, k: int, source: Source | None
) -> tuple[Source, list[Sink], BehaviorTrack]:
    """Open stream ``k``'s source (unless given), sinks and behaviour track."""
    src = config.source
    attrs = {
        "source": uri,
        "model": str(config.decoder.model or "default"),
        "engine": config.decoder.engine,
    }
    if config.decoder.model is not None:  # where the view finds it from another folder
        attrs["model_file"] = str(Path(config.decoder.model).resolve())
    if config.policy is not None:
        attrs["policy"] = config.policy.to_json()
    if source is None:  # bad addresses (and plain-text binds beyond loopback) fail fast
        source = open_source(uri, resolve_timeout=src.resolve_timeout_s, insecure=src.insecure)
    lsl_in = uri.startswith("lsl://")  # frame times are on LSL's clock
    names = [stream_address(sink, k) for sink in src.sinks] if config.several else src.sinks
    outputs = [
        open_sink(
            name,
            attrs,
            lsl_frame_times=lsl_in,
            overwrite=src.overwrite,
            insecure=src.insecure,
            activity=src.session_activity,
        )
        for name in names
    ]
    # Session files open last: a network sink that cannot bind fails before any file is made.
    outputs.sort(key=lambda sink: isinstance(sink, SessionFile))
    behavior = config.behavior
    track = BehaviorTrack(behavior.max_age_s, uri=behavior.source or uri)
    if behavior.source is None:
        source.behavior = track
    return source, outputs, track


def _load_engine(config: RunConfig) -> Engine:
    """The configured model in the configured runtime, torch limited to its threads."""
    import torch

    from rtdecode.engines import load_engine

    torch.set_num_threads(config.decoder.threads)
    model = config.decoder.model
    return load_engine(None if model is None else Path(model), config.decoder.engine)


def _processor(
    config: RunConfig,
    source: Source,
    engine: Engine,
    sinks: list[Sink],
    track: BehaviorTrack,
    controller: TriggerController | None,
    taps: Sequence[Tap],
) -> StreamProcessor:
    """One stream's processor and its post-inference chain."""
    decoder, src = config.decoder, config.source
    calibration = _calibration(config, engine.states, track)
    chain = PostInference(
        DecisionStep(engine.states, decoder.abstain, decoder.max_carried),
        sinks,
        actuator=controller,
        head=calibration,
        taps=taps,
    )
    if controller is not None:
        controller.event_logs.append(chain.record_trigger)
    return StreamProcessor(
        source,
        engine,
        chain,
        max_batch=decoder.max_batch,
        max_frames=decoder.max_frames,
        frame_interval_s=src.frame_interval_s,
        baseline=BaselineConfig() if src.raw_fluorescence else None,
        settle_frames=decoder.settle_frames,
        behavior=track,
        max_neurons=src.max_neurons,
        keep_warm_s=None if decoder.keep_warm_ms is None else decoder.keep_warm_ms / 1e3,
        calibration=calibration,
    )


def _calibration(
    config: RunConfig, states: tuple[str, ...], track: BehaviorTrack
) -> LiveCalibration | None:
    """Self-calibration for one stream (``None`` when off)."""
    section = config.calibration
    if not section.enabled:
        return None
    start = None
    earlier = section.start_from
    if earlier is not None:
        from rtdecode.calibration import earlier_head
        from rtdecode.models import load_model_file

        if not Path(earlier).exists():
            raise ConfigError(f"--calibration-from {earlier} does not exist")
        model = config.decoder.model
        start = earlier_head(earlier, load_model_file(model), section.fit)
        _log.info("the head from %s decodes from the first frame", earlier)
    policy = config.policy
    budget = policy if policy is not None and policy.false_per_min is not None else None
    return LiveCalibration(
        section.fit,
        states,
        config.source.frame_interval_s,
        start,
        earlier,
        budget,
        _fused(config.decoder.fused),
        config.decoder.fused_part,
        track.velocity_at if config.behavior.fuse else None,
    )


def _fused(where: str | None) -> CrossModel | None:
    """The fused decision's cross-animal part (``None``: off)."""
    if where is None:
        return None
    from rtdecode.calibration import load_cross_model, shipped_cross_model

    if where == "shipped":
        model = shipped_cross_model()
    else:
        if not Path(where).exists():
            raise ConfigError(f"--fused {where} does not exist; pass 'shipped' or a model file")
        model, _ = load_cross_model(where)
    _log.info("the fused decision (%s) decides after self-calibration", where)
    return model


def _controller(config: RunConfig, source: Source) -> TriggerController:
    """The closed loop of stream 1 (its events reach the sinks through the chain)."""
    from rtdecode.trigger import TriggerController, open_sham, open_trigger_output

    assert config.policy is not None
    safety = config.safety
    return TriggerController(
        config.policy,
        [open_trigger_output(uri, config.source.insecure) for uri in safety.outputs],
        safety.safety(),
        sham=open_sham(safety.sham, safety.sham_seed),
        malformed=lambda: sum(list(source.malformed.values())),
    )


def _pin(cpu: int) -> None:
    """Restrict this process to core ``cpu``, or fail naming the cores it may use."""
    allowed = sorted(os.sched_getaffinity(0))
    if cpu not in allowed:
        raise ConfigError(
            f"core {cpu} is not available to this process (decoder.cpu, --cpu); choose one of "
            f"{allowed}"
        )
    os.sched_setaffinity(0, {cpu})
