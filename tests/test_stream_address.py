"""Stream addresses: what is understood, and errors that say what is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zmq

from rtdecode.data import Recording
from rtdecode.errors import SourceError
from rtdecode.stream import (
    Faults,
    ReplaySource,
    encode_frame,
    open_sink,
    open_source,
    parse_address,
)


@pytest.mark.parametrize(
    ("uri", "kind", "target", "bind"),
    [
        ("zmq+tcp://127.0.0.1:5555", "zmq", "tcp://127.0.0.1:5555", None),
        ("zmq+tcp://:5555", "zmq", "tcp://127.0.0.1:5555", None),
        ("zmq+tcp://*:5555?bind", "zmq", "tcp://*:5555", True),
        ("zmq+tcp://scope.lab:6000?connect", "zmq", "tcp://scope.lab:6000", False),
        ("zmq+ipc:///tmp/scope.ipc", "zmq", "ipc:///tmp/scope.ipc", None),
        ("lsl://my stream", "lsl", "my stream", None),
    ],
)
def test_addresses_that_are_understood(uri: str, kind: str, target: str, bind: bool | None) -> None:
    address = parse_address(uri)
    assert (address.kind, address.target, address.bind) == (kind, target, bind)


@pytest.mark.parametrize(
    ("uri", "hint"),
    [
        ("tcp://127.0.0.1:5555", "zmq+tcp://127.0.0.1:5555"),
        ("zmq+tcp://127.0.0.1", "needs a host and port"),
        ("zmq+tcp://127.0.0.1:5555?bind&connect", "use ?bind or ?connect"),
        ("lsl://", "needs a stream name"),
        ("session.h5", "zmq+tcp://"),
    ],
)
def test_bad_addresses_name_the_forms_that_work(uri: str, hint: str) -> None:
    with pytest.raises(SourceError) as caught:
        open_source(uri)
    assert f"'{uri}'" in str(caught.value) and hint in str(caught.value)


def test_a_session_file_is_a_sink_only(tmp_path: Path) -> None:
    assert open_sink(str(tmp_path / "s.h5")).uri.endswith("s.h5")


def test_ipc_sources_receive_frames(tmp_path: Path) -> None:
    path = tmp_path / "scope.ipc"
    publisher = zmq.Context.instance().socket(zmq.XPUB)
    publisher.bind(f"ipc://{path}")
    source = open_source(f"zmq+ipc://{path}")
    source.start()
    try:
        assert publisher.poll(5000)
        publisher.recv()
        publisher.send_multipart(encode_frame(3, 1.0, np.arange(4, dtype=np.float32)))
        chunk = source.read(5.0)
        assert chunk is not None and chunk.seq == 3
        np.testing.assert_array_equal(chunk.data[0], np.arange(4))
    finally:
        source.stop()
        publisher.close(linger=0)


def test_bursts_hold_frames_back_and_release_them_together() -> None:
    recording = Recording("r", np.zeros((30, 2)), np.arange(30) * 0.5, (None, None))
    replay = ReplaySource(recording, speed=1.0, faults=Faults(burst_every=10, burst_size=4))
    due = [replay._due(i) for i in range(12)]  # seconds after start (not started: 0)
    assert due[0] == due[1] == due[2] == due[3] == pytest.approx(1.5)
    assert due[4:10] == pytest.approx([2.0, 2.5, 3.0, 3.5, 4.0, 4.5])
    assert due[10] == due[11] == pytest.approx(6.5)
