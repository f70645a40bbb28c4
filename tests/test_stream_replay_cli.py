"""``rtdecode replay`` is a fake microscope any protocol-v1 subscriber can listen to."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import zmq
from stream_support import free_port

from rtdecode.data import bundled_recording
from rtdecode.stream import parse_frame

RTDECODE = [sys.executable, "-c", "from rtdecode.cli import main; main()"]


def test_replay_sends_the_bundled_recording_with_faults_counted() -> None:
    port = free_port()
    subscriber = zmq.Context.instance().socket(zmq.SUB)
    subscriber.setsockopt(zmq.SUBSCRIBE, b"frame")
    subscriber.connect(f"tcp://127.0.0.1:{port}")
    replay = subprocess.Popen(
        [
            *RTDECODE,
            "replay",
            "--to",
            f"zmq+tcp://127.0.0.1:{port}",
            "--speed",
            "100",
            "--max-frames",
            "40",
            "--drop",
            "0.1",
            "--nan",
            "0.05",
            "--seed",
            "3",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    messages = []
    while subscriber.poll(10_000):
        messages.append(parse_frame(subscriber.recv_multipart()))
        if len(messages) == 40:
            break
    _, err = replay.communicate(timeout=60)
    subscriber.close(linger=0)
    assert replay.returncode == 0, err
    recording = bundled_recording()
    seqs = [m.seq for m in messages]
    assert len(messages) == 40 and seqs == sorted(seqs) and seqs[-1] >= 40
    dropped = seqs[-1] + 1 - 40
    assert f"sent 40 frames ({dropped} dropped by --drop)" in err
    first = messages[0]
    assert first.labels == recording.labels and first.sent_ns is not None
    for message in messages:
        data, truth = message.data[0], recording.traces[message.seq]
        finite = np.isfinite(data)
        np.testing.assert_array_equal(data[finite], truth[finite])
        assert message.t == recording.timestamps[message.seq]
    assert sum(int((~np.isfinite(m.data)).sum()) for m in messages) > 0
