"""``rtdecode replay --behavior`` into ``rtdecode run``: the recording's behaviour reaches the
session file and lines up with the frames, over ZeroMQ and over LSL; bad behaviour is counted."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import zmq
from click.testing import CliRunner
from stream_support import free_port

from rtdecode.cli import cli
from rtdecode.data import bundled_recording
from rtdecode.stream import encode_behavior, encode_frame

ROOT = Path(__file__).resolve().parents[1]
RTDECODE = [sys.executable, "-c", "from rtdecode.cli import main; main()"]
FRAMES = 60
WINDOW = 8


def _run_args(source: str, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--source",
        source,
        "--sink",
        str(tmp_path / "session.h5"),
        "--window",
        str(WINDOW),
        "--max-frames",
        str(FRAMES),
        "--decode-every-frame",
        "--quiet",
        "--json",
        str(tmp_path / "summary.json"),
        *extra,
    ]


def _replay_then_run(to: str, source: str, tmp_path: Path, *extra: str) -> dict[str, Any]:
    """Start ``rtdecode replay --behavior`` and ``rtdecode run`` as two programs; the summary."""
    replay = subprocess.Popen(
        [
            *RTDECODE,
            "replay",
            "--to",
            to,
            "--speed",
            "20",
            "--max-frames",
            str(FRAMES),
            "--behavior",
            "--wait-s",
            "90",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run = subprocess.run(
            [*RTDECODE, *_run_args(source, tmp_path, *extra)],
            capture_output=True,
            text=True,
            timeout=150,
        )
        _, replay_err = replay.communicate(timeout=60)
    finally:
        replay.kill()
    assert run.returncode == 0, run.stderr
    assert replay.returncode == 0, replay_err
    assert f"sent {FRAMES} frames with their behaviour (velocity, reversal)" in replay_err
    assert "behavior targets (max age 1 s): aligned" in run.stdout
    return dict(json.loads((tmp_path / "summary.json").read_text()))


def _behavior_table(tmp_path: Path) -> dict[str, np.ndarray]:
    with h5py.File(tmp_path / "session.h5") as handle:
        table = {name: handle[f"behavior/{name}"][:] for name in handle["behavior"]}
        table["pred_seq"] = handle["predictions/seq"][:]
        table["pred_t"] = handle["predictions/t"][:]
    return table


def _assert_recorded_behaviour(table: dict[str, np.ndarray]) -> None:
    recording = bundled_recording()
    assert recording.velocity is not None and recording.reversal is not None
    np.testing.assert_array_equal(table["seq"], np.arange(FRAMES))
    np.testing.assert_array_equal(table["velocity"], recording.velocity[:FRAMES])
    np.testing.assert_array_equal(table["reversal"], recording.reversal[:FRAMES])
    np.testing.assert_allclose(
        table["t"] - table["t"][0],
        recording.timestamps[:FRAMES] - recording.timestamps[0],
        rtol=0,
        atol=1e-4,  # LSL's clock correction moves stamps by microseconds as its offset updates
    )


def test_replayed_behaviour_over_zmq_reaches_the_session_file_beside_its_frames(
    tmp_path: Path,
) -> None:
    uri = f"zmq+tcp://127.0.0.1:{free_port()}"
    summary = _replay_then_run(uri, uri, tmp_path)
    behavior = summary["behavior"]
    assert summary["frames"] == FRAMES and summary["predictions"] == FRAMES - WINDOW + 1
    assert behavior["samples"] == FRAMES and behavior["frames_aligned"] == summary["predictions"]
    assert behavior["late"] == behavior["lost"] == behavior["malformed_total"] == 0
    table = _behavior_table(tmp_path)
    _assert_recorded_behaviour(table)
    # Each frame was acquired with its own behaviour sample: same time, same sequence number.
    np.testing.assert_array_equal(table["t"][table["pred_seq"]], table["pred_t"])


@pytest.mark.lsl
def test_replayed_behaviour_over_a_second_lsl_stream_reaches_the_session_file(
    tmp_path: Path,
) -> None:
    pytest.importorskip("pylsl")
    name = f"rtdecode-beh-{uuid.uuid4().hex[:8]}"
    summary = _replay_then_run(
        f"lsl://{name}",
        f"lsl://{name}",
        tmp_path,
        "--behavior-source",
        f"lsl://{name}-behavior",
        "--resolve-timeout",
        "60",
    )
    behavior = summary["behavior"]
    assert summary["frames"] == FRAMES and summary["predictions"] == FRAMES - WINDOW + 1
    assert behavior["source"] == f"lsl://{name}-behavior" and behavior["samples"] == FRAMES
    assert behavior["malformed_total"] == 0
    asked = behavior["frames_aligned"] + behavior["frames_missing"] + behavior["frames_untracked"]
    assert asked == summary["predictions"]
    # Two LSL streams keep no order between them: a sample may come after its frame (late),
    # and only then may the frame go without a target.
    assert behavior["frames_missing"] <= behavior["late"]
    table = _behavior_table(tmp_path)
    _assert_recorded_behaviour(table)
    # Frames and behaviour are stamped on one clock: each decoded frame has its sample's time
    # (to the microseconds by which the two inlets' clock-correction estimates differ).
    nearest = np.abs(table["t"][:, None] - table["pred_t"][None, :]).min(axis=0)
    assert nearest.max() < 1e-4


def test_run_counts_late_missing_and_malformed_behaviour(tmp_path: Path) -> None:
    port = free_port()
    producer = zmq.Context.instance().socket(zmq.XPUB)
    producer.bind(f"tcp://127.0.0.1:{port}")
    traces = bundled_recording().traces

    def produce() -> None:
        assert producer.poll(60_000), "rtdecode run never subscribed"
        producer.recv()
        time.sleep(0.2)
        for seq in range(FRAMES):
            t = 0.6 * seq
            behaviour = encode_behavior(seq, t, {"velocity": 0.01, "reversal": seq % 2})
            if 20 <= seq < 25:
                pass  # the tracker lost these samples
            elif seq == 30:
                producer.send_multipart([b"behavior", b"{broken"])
                producer.send_multipart([*behaviour[:2], b"\x00"])
            elif seq == 40:
                producer.send_multipart(encode_frame(seq, t, traces[seq]))
                producer.send_multipart(behaviour)  # after its frame: late
                continue
            else:
                producer.send_multipart(behaviour)
            producer.send_multipart(encode_frame(seq, t, traces[seq]))

    sender = threading.Thread(target=produce)
    sender.start()
    result = CliRunner().invoke(cli, _run_args(f"zmq+tcp://127.0.0.1:{port}", tmp_path))
    sender.join(30)
    producer.close(linger=0)
    assert result.exit_code == 0, result.output
    behavior = json.loads((tmp_path / "summary.json").read_text())["behavior"]
    assert behavior["malformed"] == {"part_count": 1, "size_mismatch": 1}
    assert behavior["samples"] == FRAMES - 6 and behavior["lost"] == 6 and behavior["late"] == 1
    # Frames 21 to 24 have no sample within 1 s (19's is the latest): no target, never a guess.
    # Frame 20 (19's sample, 0.6 s old), 30 (29's) and 40 (39's: its own came late) have one.
    assert behavior["frames_missing"] == 4 and behavior["frames_untracked"] == 0
    assert behavior["frames_aligned"] == FRAMES - WINDOW + 1 - 4
    assert "behavior 54 samples  lost 6  late 1" in result.output
    assert "malformed 2 (part_count 1, size_mismatch 1)" in result.output
    with h5py.File(tmp_path / "session.h5") as handle:
        seqs = handle["behavior/seq"][:]
    np.testing.assert_array_equal(seqs, [s for s in range(FRAMES) if not 20 <= s < 25 and s != 30])


def _readme_example(marker: str) -> str:
    text = (ROOT / "docs" / "wire-protocol.md").read_text()
    match = re.search(rf"<!-- {marker}[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert match, f"docs/wire-protocol.md lost its {marker}"
    return match.group(1)


def test_the_readme_tracker_and_producer_stream_a_real_recording_into_run(
    tmp_path: Path,
) -> None:
    whole = bundled_recording()
    assert whole.velocity is not None and whole.reversal is not None
    worm = tmp_path / "worm.npz"
    head = {"traces": whole.traces, "timestamps": whole.timestamps}
    head.update(velocity=whole.velocity, reversal=whole.reversal)
    np.savez(worm, **{key: values[:FRAMES] for key, values in head.items()})
    frames, behaviour = free_port(), free_port()
    args = _run_args(f"zmq+tcp://127.0.0.1:{frames}", tmp_path)
    args[args.index("--max-frames") : args.index("--max-frames") + 2] = []
    args += ["--behavior-source", f"zmq+tcp://127.0.0.1:{behaviour}"]
    decoder = subprocess.Popen([*RTDECODE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert decoder.stderr is not None
    try:
        line = decoder.stderr.readline().decode()  # "decoding" once everything is open
        while line and not line.startswith("decoding"):
            line = decoder.stderr.readline().decode()
        assert line.startswith("decoding"), line
        producers = []
        for marker, port in (
            ("example-producer", frames),
            ("example-behavior-producer", behaviour),
        ):
            script = tmp_path / f"{marker}.py"
            script.write_text(_readme_example(marker))
            command = [sys.executable, str(script), str(worm), f"tcp://127.0.0.1:{port}", "12"]
            producers.append(subprocess.Popen(command, stderr=subprocess.PIPE, text=True))
        for producer in producers:
            _, err = producer.communicate(timeout=90)
            assert producer.returncode == 0, err
        time.sleep(1.0)  # the last messages in flight
    finally:
        decoder.send_signal(signal.SIGINT)
        _, err_bytes = decoder.communicate(timeout=60)
    assert decoder.returncode == 0, err_bytes.decode()
    summary = json.loads((tmp_path / "summary.json").read_text())
    behavior = summary["behavior"]
    assert summary["frames"] == FRAMES and behavior["samples"] == FRAMES
    assert behavior["malformed_total"] == behavior["lost"] == 0
    asked = behavior["frames_aligned"] + behavior["frames_missing"] + behavior["frames_untracked"]
    assert asked == summary["predictions"] == FRAMES - WINDOW + 1
    assert behavior["frames_missing"] <= behavior["late"]  # two programs: order not kept
    _assert_recorded_behaviour(_behavior_table(tmp_path))
