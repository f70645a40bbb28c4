"""Session-file safety: no session replaced or truncated by mistake, rows on disk within 5 s
even when frames stop, a full disk costs the file and nothing else, outputs checked up front."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import zmq
from stream_support import free_port

from rtdecode.errors import SourceError
from rtdecode.stream import (
    FrameTiming,
    Prediction,
    SessionFile,
    encode_frame,
    is_session_file,
    parse_prediction,
    read_session,
)
from rtdecode.stream._session_file import RESERVE_BYTES

RTDECODE = [sys.executable, "-c", "from rtdecode.cli import main; main()"]
STATES = ("forward", "reversal")


def _write_rows(session: SessionFile, count: int) -> None:
    probs = np.array([0.5, 0.5], np.float32)
    for seq in range(count):
        prediction = Prediction(seq, seq * 0.6, probs, 0, seq)
        session.publish(prediction)
        session.record_frame(FrameTiming(seq, seq * 0.6, -1, seq, seq, seq, seq), prediction)


def _rows(path: Path) -> int:
    with h5py.File(path, "r", libver="latest", swmr=True, locking=False) as handle:
        return len(handle["frames/seq"])


def _producer(port: int) -> zmq.Socket[bytes]:
    producer: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.XPUB)
    producer.bind(f"tcp://127.0.0.1:{port}")
    return producer


def _wait_subscribed(producer: zmq.Socket[bytes], decoder: subprocess.Popen[str]) -> None:
    while not producer.poll(500):
        assert decoder.poll() is None, decoder.communicate()
    producer.recv()
    time.sleep(0.3)


def test_an_existing_session_file_is_refused_unless_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "s.h5"
    old = SessionFile(path)
    old.open(STATES)
    _write_rows(old, 10)
    old.close({"frames": 10})
    before = path.read_bytes()
    refused = subprocess.run(
        [*RTDECODE, "run", "--source", "zmq+tcp://127.0.0.1:1", "--sink", str(path)],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert refused.returncode == 1 and "already exists" in refused.stderr
    assert "--overwrite" in refused.stderr
    # With --overwrite, a run that fails at once (its network sink's port is taken) must not
    # have touched the old session: file sinks open after every other sink.
    taken = zmq.Context.instance().socket(zmq.PUB)
    port = taken.bind_to_random_port("tcp://127.0.0.1")
    try:
        failed = subprocess.run(
            [
                *RTDECODE,
                "run",
                "--source",
                "zmq+tcp://127.0.0.1:1",
                "--sink",
                str(path),
                "--sink",
                f"zmq+tcp://127.0.0.1:{port}",
                "--overwrite",
            ],
            capture_output=True,
            text=True,
            timeout=100,
        )
    finally:
        taken.close(linger=0)
    assert failed.returncode == 1 and "port" in failed.stderr
    assert path.read_bytes() == before


def test_a_second_session_on_a_running_sessions_file_leaves_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "s.h5"
    running = SessionFile(path, flush_every_s=0.0)
    running.open(STATES)
    _write_rows(running, 25)
    second = SessionFile(path, overwrite=True)  # a second open in this process
    with pytest.raises(SourceError, match="in use by another running session"):
        second.open(STATES)
    other_process = (  # and from another process, as a second `rtdecode run --overwrite` does
        "import sys\nfrom rtdecode.stream import SessionFile\n"
        "SessionFile(sys.argv[1], overwrite=True).open(('forward', 'reversal'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", other_process, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "in use by another running session" in result.stderr
    assert _rows(path) == 25, "the running session's file was truncated"
    _write_rows(running, 5)
    running.close()
    with h5py.File(path) as handle:
        assert len(handle["frames/seq"]) == 30


def test_rows_reach_the_file_within_5_s_when_frames_stop(tmp_path: Path) -> None:
    port, path = free_port(), tmp_path / "s.h5"
    producer = _producer(port)
    args = ["run", "--source", f"zmq+tcp://127.0.0.1:{port}", "--sink", str(path), "--quiet"]
    decoder = subprocess.Popen(
        [*RTDECODE, *args, "--window", "8"], stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_subscribed(producer, decoder)
        frames = np.random.default_rng(0).normal(size=(20, 30)).astype(np.float32)
        for seq, frame in enumerate(frames):
            producer.send_multipart(encode_frame(seq, seq * 0.6, frame))
        time.sleep(7.0)  # frames stop; the file's rows are at most 5 s old
        decoder.send_signal(signal.SIGKILL)
        decoder.wait(30)
    finally:
        if decoder.poll() is None:
            decoder.kill()
        producer.close(linger=0)
    assert _rows(path) == 20
    session = read_session(path)  # `rtdecode report` and `view` read a killed decoder's file
    assert len(session.frames["seq"]) == 20 and is_session_file(path)


def test_a_full_disk_drops_the_session_file_and_decoding_goes_on(tmp_path: Path) -> None:
    in_port, out_port, path = free_port(), free_port(), tmp_path / "s.h5"
    summary_path = tmp_path / "summary.json"
    limit = RESERVE_BYTES + 300_000  # room for one block of rows (~200 kB on disk), not two

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    producer = _producer(in_port)
    consumer = zmq.Context.instance().socket(zmq.SUB)
    consumer.setsockopt(zmq.SUBSCRIBE, b"pred")
    consumer.connect(f"tcp://127.0.0.1:{out_port}")
    k, messages = 64, 80  # 5,120 frames: the second block of 2,048 rows does not fit
    args = [
        "run",
        "--source",
        f"zmq+tcp://127.0.0.1:{in_port}",
        "--sink",
        f"zmq+tcp://127.0.0.1:{out_port}",
        "--sink",
        str(path),
        "--window",
        "8",
        "--no-session-activity",  # the frames' blocks alone: one fits, two do not
        "--max-frames",
        str(k * messages),
        "--quiet",
        "--json",
        str(summary_path),
    ]
    decoder = subprocess.Popen(
        [*RTDECODE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=small_disk,
    )
    predicted = []
    try:
        _wait_subscribed(producer, decoder)
        rng = np.random.default_rng(1)
        for i in range(messages):
            block = rng.normal(size=(k, 30)).astype(np.float32)
            producer.send_multipart(encode_frame(i * k, i * k * 0.01, block, dt=0.01))
            while consumer.poll(20):
                predicted.append(parse_prediction(consumer.recv_multipart())["seq"])
        out, err = decoder.communicate(timeout=90)
        while consumer.poll(200):
            predicted.append(parse_prediction(consumer.recv_multipart())["seq"])
    finally:
        if decoder.poll() is None:
            decoder.kill()
        producer.close(linger=0)
        consumer.close(linger=0)
    assert decoder.returncode == 0, err
    summary = json.loads(summary_path.read_text())
    assert summary["frames"] == k * messages
    assert "left for the session file" in summary["sinks_failed"][str(path)]
    assert "FAILED" in out and "dropped" in err
    assert max(predicted) == k * messages - 1, "predictions stopped with the session file"
    with h5py.File(path) as handle:  # closed cleanly: an ordinary reader opens it
        # The rows of the one write that fitted: a block, or fewer if the 5 s timer came first.
        seqs = handle["frames/seq"][:]
        assert 0 < len(seqs) < k * messages
        np.testing.assert_array_equal(seqs, np.arange(len(seqs)))


def test_run_checks_the_summary_folder_before_decoding(tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "summary.json"
    result = subprocess.run(  # no producer: before the check, this waited for frames forever
        [*RTDECODE, "run", "--source", "zmq+tcp://127.0.0.1:1", "--json", str(target)],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 1
    assert "no-such-folder" in result.stderr and "does not exist" in result.stderr
