"""``rtdecode demo``: the bundled real recording through the real ZeroMQ path and the model."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import click
import numpy as np

from rtdecode.cli._options import engine_option, model_option, threads_option
from rtdecode.cli._report import format_summary
from rtdecode.cli._signals import stop_on_signals
from rtdecode.data import Recording, bundled_recording
from rtdecode.engines import load_engine
from rtdecode.errors import RtdecodeError
from rtdecode.stream import (
    Pipeline,
    Prediction,
    ReplaySource,
    Sink,
    ZmqFramePublisher,
    open_sink,
    open_source,
    parse_address,
    play,
)

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


@click.command()
@click.option("--speed", default=30.0, show_default=True, help="Replay speed (1 = real time).")
@model_option
@engine_option
@threads_option
@click.option("--every", default=20, show_default=True, help="Print every N-th prediction.")
def demo(speed: float, model: Path | None, engine_name: str, threads: int, every: int) -> None:
    """Replay the bundled real recording through ZeroMQ into the decoder, printing predictions
    beside what the worm did, then accuracy and latency."""
    try:
        recording = bundled_recording()
        engine = load_engine(model, engine_name)
        frames_uri = f"zmq+tcp://127.0.0.1:{_free_port()}"
        preds_uri = f"zmq+tcp://127.0.0.1:{_free_port()}"
        click.echo(
            f"demo: {recording.summary()}\nreplaying at {speed:g}x to {frames_uri}; predictions "
            f"published on {preds_uri} (engine {engine.name}, window {engine.window} frames)\n"
        )
        replay = ReplaySource(recording, speed=speed)
        publisher = ZmqFramePublisher(parse_address(frames_uri), wait_subscribers_s=30.0)
        printer = _Printer(recording, every)
        pipeline = Pipeline(
            open_source(frames_uri),
            engine,
            [open_sink(preds_uri), printer],
            max_frames=recording.n_frames,
        )

        def produce() -> None:
            publisher.open(recording.n_neurons, replay.labels, recording.frame_interval)
            play(replay, publisher)
            publisher.close()
            time.sleep(2.0)  # frames still in flight; the decoder stops at max_frames anyway
            pipeline.stop()

        sender = threading.Thread(target=produce, daemon=True)
        sender.start()
        with stop_on_signals(pipeline.stop):
            result = pipeline.run()
        sender.join(5.0)
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("\n" + _accuracy(printer, recording, engine.states))
    if model is None:
        click.echo(
            "(the shipped model was trained on the six shared animals, this one among them; "
            "held-out figures are in docs/model-card.md)"
        )
    click.echo("")
    click.echo(format_summary(result))
