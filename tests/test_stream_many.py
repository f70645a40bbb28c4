"""Several streams in one decoder: each stream decodes as it would alone, ready windows are
batched, and a stream that fails or stalls costs the others nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest
import zmq
from stream_support import bare_config, decode, free_port

from rtdecode.data import Recording, bundled_recording, load_recording
from rtdecode.engines import load_engine
from rtdecode.live import open_session
from rtdecode.stream import Prediction, ReplaySource, Sink, parse_prediction, stream_address

RTDECODE = [sys.executable, "-c", "from rtdecode.cli import main; main()"]
FRAMES = 120


class _Collect(Sink):
    """Keeps each prediction's frame and probabilities, as a downstream program would."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.probs: dict[int, np.ndarray] = {}

    def open(self, states: tuple[str, ...]) -> None:
        self.states = states

    def publish(self, prediction: Prediction) -> None:
        self.probs[prediction.seq] = prediction.probs.copy()


def _recordings(flavell_dir: Path) -> list[Recording]:
    """Three animals with different neuron counts; the second without identities."""
    files = sorted(flavell_dir.glob("*.h5"))
    return [
        bundled_recording(),
        load_recording(files[0]).without_labels(),
        load_recording(files[3]),
    ]


def _alone(recording: Recording, engine_name: str) -> dict[int, np.ndarray]:
    """Every frame's probabilities from a decoder serving this stream alone."""
    sink = _Collect("alone")
    source = ReplaySource(recording, speed=float("inf"))
    decode(source, load_engine(None, engine_name), [sink], max_frames=FRAMES, max_batch=1)
    return sink.probs


@pytest.mark.parametrize("engine_name", ["numba", "torch"])
@pytest.mark.timeout(300)
def test_each_stream_decodes_as_it_would_alone_and_ready_windows_are_batched(
    flavell_dir: Path, engine_name: str
) -> None:
    recordings = _recordings(flavell_dir)
    assert len({r.n_neurons for r in recordings}) == 3
    engine = load_engine(None, engine_name)
    sinks = [_Collect(f"stream {k}") for k in range(len(recordings))]
    sources = [ReplaySource(recording, speed=float("inf")) for recording in recordings]
    config = bare_config(max_frames=FRAMES)
    summary = open_session(config, engine=engine, sources=sources, sinks=[[s] for s in sinks]).run()

    assert summary["failed"] == {}
    assert max(int(size) for size in summary["batches"]) >= 2, summary["batches"]
    for recording, sink, stream in zip(recordings, sinks, summary["streams"], strict=True):
        assert stream["frames"] == FRAMES
        assert stream["predictions"] == len(sink.probs) > 0
        assert stream["latency_us"]["total"]["count"] == stream["predictions"]
        alone = _alone(recording, engine_name)
        for seq, probs in sink.probs.items():
            np.testing.assert_allclose(probs, alone[seq], atol=1e-5, err_msg=f"frame {seq}")


def _replay(port: int, frames: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *RTDECODE,
            "replay",
            "--to",
            f"zmq+tcp://127.0.0.1:{port}",
            "--speed",
            "25",
            "--max-frames",
            str(frames),
            "--wait-s",
            "60",
        ],
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.timeout(180)
def test_failed_and_stalled_streams_cost_the_others_nothing(tmp_path: Path) -> None:
    frames = 150
    window = load_engine(None, "numba").window
    sources = [free_port() for _ in range(3)]
    sink_port = free_port()  # stream k publishes on sink_port + k - 1
    logger_port = free_port()  # ... and on logger_port + k - 1, opened first
    context = zmq.Context.instance()
    squatter = context.socket(zmq.PUB)  # stream 2's prediction port is taken
    squatter.bind(f"tcp://127.0.0.1:{sink_port + 1}")
    consumer = context.socket(zmq.SUB)
    consumer.setsockopt(zmq.SUBSCRIBE, b"")
    consumer.connect(f"tcp://127.0.0.1:{sink_port}")
    producers = [_replay(sources[0], frames)]  # stream 3 never gets a producer: it stalls
    missing_lsl = f"lsl://nobody-{uuid.uuid4().hex[:8]}"  # stream 4's look-up outlasts the test
    decoder = subprocess.Popen(
        [
            *RTDECODE,
            "run",
            *(arg for port in sources for arg in ("--source", f"zmq+tcp://127.0.0.1:{port}")),
            "--source",
            missing_lsl,
            "--resolve-timeout",
            "600",
            "--sink",
            f"zmq+tcp://127.0.0.1:{logger_port}",
            "--sink",
            f"zmq+tcp://127.0.0.1:{sink_port}",
            "--sink",
            str(tmp_path / "session.h5"),
            "--json",
            str(tmp_path / "summary.json"),
            "--decode-every-frame",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        seqs: list[int] = []
        deadline = time.monotonic() + 120
        while len(seqs) < frames - window + 1 and time.monotonic() < deadline:
            if consumer.poll(500):
                seqs.append(parse_prediction(consumer.recv_multipart())["seq"])
        # The failed stream closed the sink it had opened before the one that failed.
        reclaimed = context.socket(zmq.PUB)
        reclaimed.bind(f"tcp://127.0.0.1:{logger_port + 1}")
        reclaimed.close(0)
        decoder.send_signal(signal.SIGINT)
        out, err = decoder.communicate(timeout=60)
    finally:
        for process in (*producers, decoder):
            process.kill()
            process.wait()
        squatter.close(0)
        consumer.close(0)

    assert seqs == list(range(window - 1, frames)), err.decode()[-2000:]
    assert decoder.returncode == 1  # a stream failed: the exit status says so
    assert b"stream 2 failed" in err
    summary = json.loads((tmp_path / "summary.json").read_text())
    first, second, third, fourth = summary["streams"]
    assert first["frames"] == frames and first["failed"] is None
    assert first["missing_frames"] == 0 and first["predictions"] == len(seqs)
    assert "in use" in second["failed"] or "Address" in second["failed"], second["failed"]
    assert third["frames"] == 0 and third["failed"] is None
    assert fourth["frames"] == 0 and fourth["failed"] is None
    assert "== stream 3 ==" in out.decode()
    with h5py.File(tmp_path / "session-1.h5", "r") as session:
        assert len(session["frames/seq"]) == frames
        assert session.attrs["source"] == f"zmq+tcp://127.0.0.1:{sources[0]}"
    with h5py.File(tmp_path / "session-3.h5", "r") as session:
        assert len(session["frames/seq"]) == 0


def test_each_stream_gets_its_own_sink_addresses() -> None:
    assert stream_address("zmq+tcp://*:5560?bind", 3) == "zmq+tcp://*:5562?bind"
    assert stream_address("lsl://rtdecode", 2) == "lsl://rtdecode-2"
    assert stream_address("runs/day1.h5", 2) == "runs/day1-2.h5"
    assert stream_address("zmq+ipc:///tmp/pred.ipc", 1) == "zmq+ipc:///tmp/pred-1.ipc"
    with pytest.raises(Exception, match="fixed port"):
        stream_address("zmq+tcp://127.0.0.1:0?bind", 2)


@pytest.mark.timeout(60)
def test_options_of_one_stream_are_refused_with_several_sources(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *RTDECODE,
            "run",
            "--source",
            "zmq+tcp://127.0.0.1:5",
            "--source",
            "zmq+tcp://127.0.0.1:6",
            "--trigger",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--trigger is for one stream" in result.stderr
