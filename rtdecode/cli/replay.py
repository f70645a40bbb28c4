"""``rtdecode replay``: play a recording as a live microscope stream (the fake microscope)."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from rtdecode.cli._options import insecure_option
from rtdecode.cli._signals import stop_on_signals
from rtdecode.data import bundled_recording, load_recording
from rtdecode.errors import ConfigError, RtdecodeError
from rtdecode.stream import (
    Faults,
    LslFramePublisher,
    ReplaySource,
    ZmqFramePublisher,
    open_frame_publisher,
    play,
)

__all__ = ["replay"]


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--to",
    "to",
    required=True,
    help="Where to send frames: zmq+tcp://HOST:PORT (binds a PUB there, e.g. 127.0.0.1:5555), "
    "zmq+ipc://PATH, or lsl://NAME (an LSL outlet).",
)
@click.option("--speed", default=1.0, show_default=True, help="Playback speed (1 = real time).")
@click.option("--loop", is_flag=True, help="Start again at the end, until interrupted.")
@click.option("--drop", default=0.0, show_default=True, help="Fault: probability a frame is lost.")
@click.option(
    "--jitter-ms", default=0.0, show_default=True, help="Fault: delivery delay s.d. in ms."
)
@click.option("--nan", default=0.0, show_default=True, help="Fault: probability a value is NaN.")
@click.option("--burst-every", default=0, show_default=True, help="Fault: burst period (frames).")
@click.option("--burst-size", default=0, show_default=True, help="Fault: frames per burst.")
@click.option("--seed", default=0, show_default=True, help="Random seed of the faults.")
@click.option(
    "--wait-s",
    default=5.0,
    show_default=True,
    help="Wait up to this long for a first subscriber before sending.",
)
@click.option("--max-frames", type=int, default=None, help="Stop after this many frames.")
@click.option(
    "--behavior",
    is_flag=True,
    help="Send the recording's tracked behaviour (velocity, reversal) too: 'behavior' messages "
    "before each frame on the same ZeroMQ socket, or a second LSL outlet NAME-behavior.",
)
@insecure_option
def replay(
    path: Path | None,
    to: str,
    speed: float,
    loop: bool,
    drop: float,
    jitter_ms: float,
    nan: float,
    burst_every: int,
    burst_size: int,
    seed: int,
    wait_s: float,
    max_frames: int | None,
    behavior: bool,
    insecure: bool,
) -> None:
    """Play recording PATH (default: the bundled one) to a decoder, like a live microscope.

    Frames follow wire protocol v1 over ZeroMQ (see docs/wire-protocol.md), or go to an LSL outlet with
    one channel per neuron; with --behavior the recorded behaviour goes along. Stop with Ctrl-C.
    """
    try:
        recording = load_recording(path) if path is not None else bundled_recording()
        faults = Faults(drop, jitter_ms / 1e3, nan, burst_every, burst_size, seed)
        source = ReplaySource(recording, speed=speed, loop=loop, faults=faults)
        publisher = open_frame_publisher(to, wait_subscribers_s=wait_s, insecure=insecure)
        publisher.open(recording.n_neurons, source.labels, recording.frame_interval)
        if behavior:
            if not source.behavior_fields:
                raise ConfigError(
                    f"recording '{recording.id}' has no tracked behaviour (velocity or "
                    "reversal) to send; drop --behavior"
                )
            publisher.open_behavior(source.behavior_fields)
        if isinstance(publisher, LslFramePublisher):
            publisher.wait_for_consumers(wait_s)
        click.echo(
            f"replaying {recording.summary()} to {to} at {speed:g}x"
            + (" (looping)" if loop else ""),
            err=True,
        )
        stop = threading.Event()
        with stop_on_signals(stop.set):
            sent = play(source, publisher, stop, max_frames, behavior)
        publisher.close()
        refused = publisher.refused() if isinstance(publisher, ZmqFramePublisher) else None
        if refused is not None:
            raise ConfigError(f"played {sent} frames, but {refused}")
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    with_behavior = (
        f" with their behaviour ({', '.join(source.behavior_fields)})" if behavior else ""
    )
    click.echo(f"sent {sent} frames{with_behavior} ({source.dropped} dropped by --drop)", err=True)
