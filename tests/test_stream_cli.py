"""``rtdecode run`` refuses what it cannot use with a message that says what would work."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import zmq
from click.testing import CliRunner
from stream_support import free_port

from rtdecode.cli import cli
from rtdecode.data import bundled_recording
from rtdecode.stream import encode_frame


def test_run_names_a_bad_source_and_the_forms_that_work() -> None:
    result = CliRunner().invoke(cli, ["run", "--source", "tcp://127.0.0.1:5555"])
    assert result.exit_code == 1
    assert "tcp://127.0.0.1:5555" in result.output and "zmq+tcp://" in result.output


def test_run_names_a_sink_it_cannot_create(tmp_path: Path) -> None:
    sink = str(tmp_path / "no-such-folder" / "session.h5")
    result = CliRunner().invoke(
        cli, ["run", "--source", "zmq+tcp://127.0.0.1:1", "--sink", sink, "--max-frames", "1"]
    )
    assert result.exit_code == 1
    assert "cannot create session file" in result.output and "no-such-folder" in result.output


def test_run_refuses_an_unknown_engine() -> None:
    result = CliRunner().invoke(
        cli, ["run", "--source", "zmq+tcp://127.0.0.1:1", "--engine", "tensorflow"]
    )
    assert result.exit_code == 2 and "tensorflow" in result.output


def test_run_decodes_with_a_chosen_window_and_stops_at_max_frames(tmp_path: Path) -> None:
    port = free_port()
    producer = zmq.Context.instance().socket(zmq.XPUB)
    producer.bind(f"tcp://127.0.0.1:{port}")
    traces = bundled_recording().traces

    def produce() -> None:
        assert producer.poll(60_000), "rtdecode run never subscribed"
        producer.recv()
        time.sleep(0.2)
        for seq in range(12):
            producer.send_multipart(encode_frame(seq, seq * 0.6, traces[seq]))

    sender = threading.Thread(target=produce)
    sender.start()
    session, summary = tmp_path / "s.h5", tmp_path / "summary.json"
    args = [
        "run",
        "--source",
        f"zmq+tcp://127.0.0.1:{port}",
        "--sink",
        str(session),
        "--window",
        "8",
        "--max-frames",
        "12",
        "--decode-every-frame",
        "--quiet",
        "--json",
        str(summary),
    ]
    result = CliRunner().invoke(cli, args)
    sender.join(30)
    producer.close(linger=0)
    assert result.exit_code == 0, result.output
    report = json.loads(summary.read_text())
    assert report["window"] == 8 and report["frames"] == 12 and report["predictions"] == 5
    with h5py.File(session) as handle:
        np.testing.assert_array_equal(handle["predictions/seq"][:], np.arange(7, 12))
