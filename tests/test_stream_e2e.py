"""End to end: separate programs that know only the documented protocols stream a real recording
into ``rtdecode run`` (the shipped model) and read back one prediction per frame."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest
import zmq
from stream_support import free_port

from rtdecode.data import bundled_recording
from rtdecode.engines import load_engine
from rtdecode.stream import parse_prediction

ROOT = Path(__file__).resolve().parents[1]
RTDECODE = [sys.executable, "-c", "from rtdecode.cli import main; main()"]
FRAMES = 100
SPEED = 12.0


def readme_producer() -> str:
    """The example producer exactly as the user guide shows it (docs/wire-protocol.md)."""
    text = (ROOT / "docs" / "wire-protocol.md").read_text()
    match = re.search(r"<!-- example-producer[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert match, "docs/wire-protocol.md lost its example producer"
    return match.group(1)


@pytest.fixture(scope="module")
def short_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first frames of the bundled real recording as a minimal .npz (docs/formats.md)."""
    whole = bundled_recording()
    path = tmp_path_factory.mktemp("rec") / "worm.npz"
    np.savez(path, traces=whole.traces[:FRAMES], timestamps=whole.timestamps[:FRAMES])
    return path


def start_decoder(source: str, sinks: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    args = [*RTDECODE, "run", "--source", source, "--quiet", "--decode-every-frame"]
    for sink in sinks:
        args += ["--sink", sink]
    args += ["--json", str(tmp_path / "summary.json")]
    decoder = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert decoder.stderr is not None
    deadline, seen = time.monotonic() + 180, []  # the model loads, then source and sinks open
    while time.monotonic() < deadline:
        ready, _, _ = select.select([decoder.stderr], [], [], max(deadline - time.monotonic(), 0))
        line = decoder.stderr.readline() if ready else ""
        seen.append(line)
        if line.startswith("decoding") or not line:
            break
    assert seen[-1].startswith("decoding"), f"decoder did not start: {seen}"
    return decoder


def stop_decoder(decoder: subprocess.Popen[str], tmp_path: Path) -> dict:
    decoder.send_signal(signal.SIGINT)
    out, err = decoder.communicate(timeout=60)
    assert decoder.returncode == 0, err
    assert "latency (ms)" in out and "frames 100" in out
    return json.loads((tmp_path / "summary.json").read_text())


def test_the_readme_producer_streams_a_real_recording_over_zmq(
    short_recording: Path, tmp_path: Path
) -> None:
    window = load_engine().window
    frames_port, preds_port = free_port(), free_port()
    session = tmp_path / "session.h5"
    decoder = start_decoder(
        f"zmq+tcp://127.0.0.1:{frames_port}",
        [f"zmq+tcp://127.0.0.1:{preds_port}", str(session)],
        tmp_path,
    )
    consumer = zmq.Context.instance().socket(zmq.SUB)
    consumer.setsockopt(zmq.SUBSCRIBE, b"pred")
    consumer.connect(f"tcp://127.0.0.1:{preds_port}")
    script = tmp_path / "producer.py"
    script.write_text(readme_producer())
    try:
        producer = subprocess.run(
            [
                sys.executable,
                str(script),
                str(short_recording),
                f"tcp://127.0.0.1:{frames_port}",
                str(SPEED),
            ],
            timeout=90,
            capture_output=True,
            text=True,
        )
        assert producer.returncode == 0, producer.stderr
        predictions = []
        while consumer.poll(3000):
            predictions.append(parse_prediction(consumer.recv_multipart()))
            if len(predictions) == FRAMES - window + 1:
                break
    finally:
        summary = stop_decoder(decoder, tmp_path)
        consumer.close(linger=0)
    assert summary["frames"] == FRAMES and summary["malformed_total"] == 0
    assert [p["seq"] for p in predictions] == list(range(window - 1, FRAMES))
    assert summary["predictions"] == len(predictions)
    assert all(p["state"] in ("forward", "reversal") for p in predictions)
    assert all(abs(sum(p["probs"].values()) - 1.0) < 1e-4 for p in predictions)
    with h5py.File(session) as handle:
        assert len(handle["frames/recv_ns"]) == FRAMES
        np.testing.assert_array_equal(handle["predictions/seq"][:], np.arange(window - 1, FRAMES))
        probs = handle["predictions/probs"][:]
    np.testing.assert_allclose(
        probs[:, 1], [p["probs"]["reversal"] for p in predictions], rtol=1e-6
    )


LSL_PRODUCER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import pylsl

    path, name, speed = sys.argv[1], sys.argv[2], float(sys.argv[3])
    data = np.load(path)
    traces, times = data["traces"].astype(np.float32), data["timestamps"]
    info = pylsl.StreamInfo(name, "Calcium", traces.shape[1], 1.0 / 0.6, pylsl.cf_float32, name)
    channels = info.desc().append_child("channels")
    for i in range(traces.shape[1]):
        channels.append_child("channel").append_child_value("label", f"N{i}")
    outlet = pylsl.StreamOutlet(info)
    assert outlet.wait_for_consumers(60), "no decoder connected"
    time.sleep(0.5)
    start, origin = time.monotonic(), pylsl.local_clock()
    for frame, t in zip(traces, times):
        time.sleep(max(0.0, start + (t - times[0]) / speed - time.monotonic()))
        outlet.push_sample(frame, origin + (t - times[0]))
    time.sleep(2.0)
    """
)


@pytest.mark.lsl
def test_a_plain_lsl_outlet_streams_a_real_recording_into_run(
    short_recording: Path, tmp_path: Path
) -> None:
    pylsl = pytest.importorskip("pylsl")
    window = load_engine().window
    name = f"rtdecode-e2e-{uuid.uuid4().hex[:8]}"
    script = tmp_path / "lsl_producer.py"
    script.write_text(LSL_PRODUCER)
    env = {**os.environ}
    producer = subprocess.Popen(
        [sys.executable, str(script), str(short_recording), name, str(SPEED)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    decoder = start_decoder(f"lsl://{name}", [f"lsl://{name}-pred"], tmp_path)
    try:
        found = pylsl.resolve_byprop("name", f"{name}-pred", minimum=1, timeout=60)
        assert found, "the decoder's LSL outlet never appeared"
        inlet = pylsl.StreamInlet(found[0])
        inlet.open_stream(timeout=10)
        _, producer_err = producer.communicate(timeout=120)
        assert producer.returncode == 0, producer_err
        samples: list[list[float]] = []
        deadline = time.monotonic() + 30
        while len(samples) < FRAMES - window + 1 and time.monotonic() < deadline:
            chunk, _ = inlet.pull_chunk(timeout=1.0)
            samples.extend(chunk)
    finally:
        summary = stop_decoder(decoder, tmp_path)
    assert summary["frames"] == FRAMES
    assert summary["predictions"] == FRAMES - window + 1 == len(samples)
    np.testing.assert_allclose(np.sum(samples, axis=1), 1.0, rtol=1e-5)
