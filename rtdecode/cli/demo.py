"""``rtdecode demo``: the bundled real recording through the real ZeroMQ path and the model."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click
import numpy as np

from rtdecode.calibration import CalibrationConfig
from rtdecode.cli._options import engine_option, insecure_option, model_option, threads_option
from rtdecode.cli._report import format_summary
from rtdecode.cli._signals import stop_on_signals
from rtdecode.cli._view import attached_view, open_view, stopped_on_failure
from rtdecode.data import Recording, bundled_recording
from rtdecode.errors import RtdecodeError
from rtdecode.events import describe, score_fires
from rtdecode.live import (
    CalibrationSection,
    DecoderConfig,
    RunConfig,
    SafetyConfig,
    SourceConfig,
    ViewConfig,
    open_session,
)
from rtdecode.policy import PolicyConfig
from rtdecode.stream import Prediction, ReplaySource, Sink, ZmqFramePublisher, parse_address, play
from rtdecode.trigger import DeviceEmulator, TriggerController

__all__ = ["demo"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Printer(Sink):
    """Prints predictions beside the recorded behaviour and keeps them for the summary."""

    def __init__(self, recording: Recording, every: int) -> None:
        self.uri = "console"
        self._recording = recording
        self._every = every
        self._states: tuple[str, ...] = ()
        self.predicted = np.full(recording.n_frames, -1, np.int64)
        self.p_reversal = np.full(recording.n_frames, np.nan)

    def open(self, states: tuple[str, ...]) -> None:
        self._states = states
        click.echo(f"{'time':>8} {'frame':>6}  {'predicted':<10} {'p(rev)':>6}  recorded")

    def publish(self, prediction: Prediction) -> None:
        frame = prediction.seq % self._recording.n_frames
        self.predicted[frame] = prediction.state
        if "reversal" in self._states:
            self.p_reversal[frame] = prediction.probs[self._states.index("reversal")]
        reversal = self._recording.reversal
        recorded = "?" if reversal is None else ("reversal" if reversal[frame] else "forward")
        changed = frame > 0 and reversal is not None and reversal[frame] != reversal[frame - 1]
        if frame % self._every == 0 or changed:
            state = self._states[prediction.state]
            mark = "" if recorded in ("?", state) else "   <- differs"
            t = self._recording.timestamps[frame] - self._recording.timestamps[0]
            click.echo(
                f"{t:7.1f}s {frame:>6}  {state:<10} {self.p_reversal[frame]:6.2f}  {recorded}{mark}"
            )


def _trigger_report(
    controller: TriggerController,
    device: DeviceEmulator,
    recording: Recording,
    scored_from_s: float,
) -> str:
    """Pulses the emulated device got, onsets caught, false triggers per minute, latency."""
    fires = [e for e in controller.events if e.kind == "fire"]
    withheld = Counter(e.reason for e in controller.events if e.kind == "suppressed")
    lines = [
        f"trigger: {len(fires)} pulses written to the emulated device on {device.port}; it got "
        f"{len(device.pulses())} ({len(device.errors)} protocol errors); suppressed: "
        + (", ".join(f"{k} {v}" for k, v in sorted(withheld.items())) or "none")
    ]
    if recording.reversal is not None:
        t = recording.timestamps  # the replay stamps frames with the recording's own times
        score = score_fires(np.array([e.t for e in fires]), t, recording.reversal, scored_from_s)
        lines.append(
            f"reversal {describe(score.as_dict())}; scored from {scored_from_s - t[0]:.0f} s "
            "(docs/event-scoring.md)"
        )
    for name, label in (
        ("trigger", "frame received -> byte written"),
        ("added", "decision -> byte written"),
    ):
        hist = controller.latency[name]
        if hist.count:
            lines.append(
                f"trigger latency, {label}: p50 {hist.percentile(50) / 1e6:.3f} ms, p99 "
                f"{hist.percentile(99) / 1e6:.3f} ms, max {hist.max_ns / 1e6:.3f} ms"
            )
    return "\n".join(lines)


def _accuracy(printer: _Printer, recording: Recording, states: tuple[str, ...]) -> str:
    if recording.reversal is None or "reversal" not in states:
        return "no recorded behaviour to compare with"
    decoded = printer.predicted >= 0
    truth = recording.reversal[decoded]
    guess = printer.predicted[decoded] == states.index("reversal")
    if truth.all() or not truth.any():
        return "balanced accuracy undefined: only one behaviour in the decoded frames"
    tpr = float((guess & truth).sum() / truth.sum())
    tnr = float((~guess & ~truth).sum() / (~truth).sum())
    return (
        f"balanced accuracy {0.5 * (tpr + tnr):.3f} against the recorded reversals over "
        f"{int(decoded.sum())} decoded frames (reversals caught {tpr:.0%}, forward {tnr:.0%})"
    )


def _config(
    frames_uri: str,
    preds_uri: str,
    recording: Recording,
    model: Path | None,
    engine_name: str,
    calibrate_s: float,
    device: DeviceEmulator | None,
    flags: dict[str, Any],
) -> RunConfig:
    """The demo's session: the replay in, predictions out on ZeroMQ, as ``rtdecode run``;
    ``flags``: ``--threads``, ``--insecure`` and the ``--view`` flags."""
    safety = SafetyConfig()
    if device is not None:
        # The replay runs faster than life: the policy runs on the frames' own times, and the
        # watchdog allows a second (the default, two frame periods, is 40 ms here).
        safety = SafetyConfig(
            outputs=(f"serial://{device.port}",), arm=True, frame_clock=True, watchdog_ms=1000.0
        )
    return RunConfig(
        source=SourceConfig(
            addresses=(frames_uri,), sinks=(preds_uri,), insecure=flags["insecure"]
        ),
        decoder=DecoderConfig(
            model=None if model is None else str(model),
            engine=engine_name,
            threads=flags["threads"],
            max_frames=recording.n_frames,
        ),
        calibration=CalibrationSection(
            enabled=calibrate_s > 0,
            fit=CalibrationConfig(seconds=calibrate_s) if calibrate_s else CalibrationConfig(),
        ),
        policy=PolicyConfig() if device is not None else None,
        safety=safety,
        view=_view_config(flags),
    )


def _view_config(flags: dict[str, Any]) -> ViewConfig:
    """The ``[view]`` section from the flags given (the dataclass holds the defaults)."""
    given = {"address": flags["view"], "token": flags["view_token"]}
    given["linger_s"] = flags["view_linger"]
    return dataclasses.replace(ViewConfig(), **{k: v for k, v in given.items() if v is not None})


@click.command()
@click.option("--speed", default=30.0, show_default=True, help="Replay speed (1 = real time).")
@model_option
@engine_option
@threads_option
@click.option("--every", default=20, show_default=True, help="Print every N-th prediction.")
@click.option(
    "--trigger",
    is_flag=True,
    help="Close the loop too: the default trigger policy, armed, drives an emulated serial "
    "device on a pty; ends with onsets caught, false triggers per minute and trigger latency.",
)
@click.option(
    "--calibrate",
    "calibrate_s",
    type=click.FloatRange(min=0.0),
    metavar="SECONDS",
    default=0.0,
    show_default=True,
    help="Send the recorded behaviour too and self-calibrate on its first SECONDS (as "
    "'rtdecode run --calibrate'); ends with which head won and why.",
)
@click.option(
    "--view",
    metavar="[HOST:]PORT",
    help="Serve the live browser page of the demo's decoder here (as 'rtdecode run --view'; "
    "needs the 'view' extra).",
)
@click.option(
    "--view-token",
    envvar="RTDECODE_VIEW_TOKEN",
    help="Access token of a page beyond loopback (default: a new one, printed).",
)
@click.option(
    "--view-linger",
    type=click.FloatRange(min=0.0),
    metavar="SECONDS",
    help="After the demo stops, keep the page this long (default: the [view] section's).",
)
@insecure_option
def demo(
    speed: float,
    model: Path | None,
    engine_name: str,
    every: int,
    trigger: bool,
    calibrate_s: float,
    **flags: Any,
) -> None:
    """Replay the bundled real recording through ZeroMQ into the decoder, printing predictions
    beside what the worm did, then accuracy and latency."""
    device = None
    try:
        recording = bundled_recording()
        frames_uri = f"zmq+tcp://127.0.0.1:{_free_port()}"
        preds_uri = f"zmq+tcp://127.0.0.1:{_free_port()}"
        if trigger:
            device = DeviceEmulator()
        printer = _Printer(recording, every)
        config = _config(
            frames_uri, preds_uri, recording, model, engine_name, calibrate_s, device, flags
        )
        view = open_view(config)  # its page starts while the model loads
        with stopped_on_failure(view):
            session = open_session(config, sinks=[[printer]])
        engine = session.runner.engine
        click.echo(
            f"demo: {recording.summary()}\nreplaying at {speed:g}x to {frames_uri}; predictions "
            f"published on {preds_uri} (engine {engine.name}, window {engine.window} frames)\n"
        )
        if device is not None:
            click.echo(f"trigger: default policy, armed, into an emulated device on {device.port}")
        if calibrate_s:
            click.echo(
                f"self-calibration on the first {calibrate_s:g} s of the recorded behaviour "
                "(sent beside the frames)"
            )
        replay = ReplaySource(recording, speed=speed)
        publisher = ZmqFramePublisher(parse_address(frames_uri), wait_subscribers_s=30.0)

        def produce() -> None:
            publisher.open(recording.n_neurons, replay.labels, recording.frame_interval)
            if calibrate_s:
                publisher.open_behavior(replay.behavior_fields)
            play(replay, publisher, behavior=bool(calibrate_s))
            publisher.close()
            # The decoder stops at the last frame; frames still in flight on a busy machine get
            # time to arrive, but a lost one must not hold the demo forever.
            deadline = time.monotonic() + 30.0
            while session.streams[0].frames < recording.n_frames and time.monotonic() < deadline:
                time.sleep(0.05)
            session.stop()

        with attached_view(config, session, view):
            sender = threading.Thread(target=produce, daemon=True)
            sender.start()
            with stop_on_signals(session.stop):
                result = session.run()
            sender.join(5.0)
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if device is not None:
            device.close()
    click.echo("\n" + _accuracy(printer, recording, engine.states))
    if device is not None and session.controller is not None:
        scored_from = recording.timestamps[0] + calibrate_s  # after calibration
        click.echo(_trigger_report(session.controller, device, recording, scored_from))
    if model is None:
        click.echo(
            "(the shipped model was trained on the six shared animals, this one among them; "
            "held-out figures are in docs/model-card.md)"
        )
    click.echo("")
    result.pop("trigger", None)  # the demo's own trigger report is above
    click.echo(format_summary(result))
