"""Who may talk to the decoder: ZeroMQ CURVE keys, and plain-text binds beyond loopback refused.

Real sockets on 127.0.0.1 only (a loopback bind opts in to CURVE with ?key=...&clients=...);
the refusal of a non-loopback bind is checked before any socket exists, so nothing is ever
bound beyond loopback here.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zmq
import zmq.auth
from click.testing import CliRunner
from stream_support import free_port

from rtdecode.cli import cli
from rtdecode.errors import SourceError
from rtdecode.stream import (
    Chunk,
    Prediction,
    encode_frame,
    open_frame_publisher,
    open_sink,
    open_source,
)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """Key pairs made by ``rtdecode keys``: the decoder's, an allowed client's, a stranger's."""
    runner = CliRunner()
    for name in ("decoder", "client", "stranger"):
        result = runner.invoke(cli, ["keys", str(tmp_path), "--name", name])
        assert result.exit_code == 0, result.output
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "client.key").write_bytes((tmp_path / "client.key").read_bytes())
    return tmp_path


def _server_options(keys: Path) -> str:
    return f"key={keys / 'decoder.key_secret'}&clients={keys / 'allowed'}"


def _client_socket(keys: Path, name: str | None, socket_type: int) -> zmq.Socket[bytes]:
    """A socket that is a CURVE client with key pair ``name`` (plain text for ``None``)."""
    socket: zmq.Socket[bytes] = zmq.Context.instance().socket(socket_type)
    socket.linger = 0
    if name is not None:
        public, secret = zmq.auth.load_certificate(str(keys / f"{name}.key_secret"))
        socket.curve_publickey, socket.curve_secretkey = public, secret
        socket.curve_serverkey = zmq.auth.load_certificate(str(keys / "decoder.key"))[0]
    return socket


def test_keys_writes_a_private_secret_and_refuses_to_overwrite(keys: Path) -> None:
    assert (keys / "decoder.key").is_file()
    assert (keys / "decoder.key_secret").stat().st_mode & 0o777 == 0o600
    result = CliRunner().invoke(cli, ["keys", str(keys), "--name", "decoder"])
    assert result.exit_code != 0 and "exists already" in result.output


def test_only_allowed_clients_read_predictions_from_a_curve_sink(keys: Path) -> None:
    port = free_port()
    sink = open_sink(f"zmq+tcp://127.0.0.1:{port}?{_server_options(keys)}")
    sink.open(("forward", "reversal"))
    readers = {name: _client_socket(keys, name, zmq.SUB) for name in ("client", "stranger", None)}
    for reader in readers.values():
        reader.setsockopt(zmq.SUBSCRIBE, b"pred")
        reader.connect(f"tcp://127.0.0.1:{port}")
    received = dict.fromkeys(readers, 0)
    try:
        prediction = Prediction(0, 0.0, np.array([0.7, 0.3], np.float32), 0, 0)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            sink.publish(prediction)
            prediction.seq += 1
            for name, reader in readers.items():
                while reader.poll(0):
                    reader.recv_multipart()
                    received[name] += 1
            time.sleep(0.01)
    finally:
        for reader in readers.values():
            reader.close()
        sink.close()
    assert received["client"] > 100, "the allowed client gets the predictions"
    assert received["stranger"] == 0, "a key not in the clients folder gets nothing"
    assert received[None] == 0, "a plain-text subscriber gets nothing"


def test_only_allowed_clients_send_frames_to_a_curve_source(keys: Path) -> None:
    port = free_port()
    source = open_source(f"zmq+tcp://127.0.0.1:{port}?bind&{_server_options(keys)}")
    source.start()
    writers = {name: _client_socket(keys, name, zmq.PUB) for name in ("client", "stranger")}
    for writer in writers.values():
        writer.connect(f"tcp://127.0.0.1:{port}")
    seqs: list[int] = []
    try:
        deadline = time.monotonic() + 3.0
        seq = 0
        while time.monotonic() < deadline:
            for offset, writer in enumerate(writers.values()):  # client even, stranger odd
                frame = np.arange(4, dtype=np.float32)
                writer.send_multipart(encode_frame(2 * seq + offset, 0.1 * seq, frame))
            seq += 1
            chunk = source.read(0.01)
            if chunk is not None:
                seqs.append(chunk.seq)
        stats = source.stats()
    finally:
        for writer in writers.values():
            writer.close()
        source.stop()
    assert len(seqs) > 100, "the allowed producer's frames arrive"
    assert all(seq % 2 == 0 for seq in seqs), "no frame from the unknown key got in"
    assert stats["refused_clients"] >= 1


def test_replay_connects_with_keys_to_a_curve_source(keys: Path) -> None:
    port = free_port()
    source = open_source(f"zmq+tcp://127.0.0.1:{port}?bind&{_server_options(keys)}")
    source.start()
    client = f"key={keys / 'client.key_secret'}&server_key={keys / 'decoder.key'}"
    command = [sys.executable, "-c", "from rtdecode.cli import main; main()", "replay"]
    command += ["--speed", "50"]
    command += ["--to", f"zmq+tcp://127.0.0.1:{port}?connect&{client}", "--max-frames", "40"]
    replay = subprocess.Popen(command, stderr=subprocess.PIPE, env=os.environ.copy())
    frames = 0
    try:
        deadline = time.monotonic() + 60
        while frames < 20 and time.monotonic() < deadline:
            chunk = source.read(0.1)
            frames += 0 if chunk is None else chunk.n_frames
        _, stderr = replay.communicate(timeout=60)
    finally:
        replay.kill()
        source.stop()
    assert frames >= 20, stderr.decode()
    assert replay.returncode == 0, stderr.decode()


@pytest.mark.parametrize(
    "opener",
    [
        lambda p: open_source(f"zmq+tcp://0.0.0.0:{p}?bind"),
        lambda p: open_sink(f"zmq+tcp://*:{p}"),
        lambda p: open_sink(f"zmq+tcp://[::]:{p}?bind"),
        lambda p: open_frame_publisher(f"zmq+tcp://scope.lab.example:{p}"),
    ],
)
def test_a_plain_text_bind_beyond_loopback_is_refused(opener: object) -> None:
    with pytest.raises(SourceError, match=r"refusing to bind .* --insecure"):
        opener(free_port())  # type: ignore[operator]


def test_insecure_and_connecting_sides_are_not_refused() -> None:
    """Nothing is opened here: making the source or sink is where the refusal happens."""
    assert open_source("zmq+tcp://0.0.0.0:5555?bind", insecure=True).uri.endswith("?bind")
    assert open_sink("zmq+tcp://0.0.0.0:5556", insecure=True) is not None
    assert open_source("zmq+tcp://192.0.2.7:5555") is not None, "a source connects by default"
    assert open_sink("zmq+tcp://127.0.0.1:5557?bind") is not None, "loopback stays easy"
    assert open_sink("zmq+tcp://[::1]:5557") is not None and open_sink("zmq+tcp://localhost:5")
    assert open_sink("zmq+ipc:///tmp/rtdecode-x.ipc") is not None, "ipc is this machine only"


def test_run_refuses_a_public_bind_before_decoding(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", "--source", f"zmq+tcp://0.0.0.0:{free_port()}?bind", "--quiet"]
    )
    assert result.exit_code != 0
    assert "refusing to bind" in result.output and "rtdecode keys" in result.output


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("key={d}/decoder.key&clients={d}/allowed", "holds no secret key"),
        ("key={d}/missing.key_secret&clients={d}/allowed", "cannot read key pair"),
        ("key={d}/decoder.key_secret&clients={d}/empty", "no public keys"),
        ("key={d}/decoder.key_secret", "either clients=DIR"),
        ("clients={d}/allowed", "needs key="),
    ],
)
def test_bad_key_options_are_clear_errors(keys: Path, query: str, message: str) -> None:
    (keys / "empty").mkdir()
    uri = f"zmq+tcp://127.0.0.1:{free_port()}?bind&" + query.format(d=keys)
    with pytest.raises(SourceError, match=message):
        open_source(uri)


def test_a_key_added_to_the_clients_folder_gets_in_without_a_restart(keys: Path) -> None:
    port = free_port()
    sink = open_sink(f"zmq+tcp://127.0.0.1:{port}?{_server_options(keys)}")
    sink.open(("forward", "reversal"))
    reader = _client_socket(keys, "stranger", zmq.SUB)
    reader.setsockopt(zmq.SUBSCRIBE, b"pred")
    reader.connect(f"tcp://127.0.0.1:{port}")
    prediction = Prediction(0, 0.0, np.array([0.7, 0.3], np.float32), 0, 0)

    def received_within(seconds: float) -> int:
        count = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sink.publish(prediction)
            while reader.poll(10):
                reader.recv_multipart()
                count += 1
        return count

    try:
        assert received_within(1.0) == 0
        shutil.rmtree(keys / "allowed")  # an unreadable folder refuses, and nothing dies
        reader.disconnect(f"tcp://127.0.0.1:{port}")
        reader.connect(f"tcp://127.0.0.1:{port}")
        assert received_within(1.0) == 0
        (keys / "allowed").mkdir()
        (keys / "allowed" / "stranger.key").write_bytes((keys / "stranger.key").read_bytes())
        reader.disconnect(f"tcp://127.0.0.1:{port}")  # a refused client does not retry by itself
        reader.connect(f"tcp://127.0.0.1:{port}")
        assert received_within(5.0) > 0, "the client got in once its key was in the folder"
    finally:
        reader.close()
        sink.close()


def test_a_refused_source_says_why_and_gets_in_once_its_key_is_allowed(
    keys: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    publisher = open_frame_publisher(f"zmq+tcp://127.0.0.1:{port}?{_server_options(keys)}")
    publisher.open(4, None, 0.01)
    client = f"key={keys / 'stranger.key_secret'}&server_key={keys / 'decoder.key'}"
    source = open_source(f"zmq+tcp://127.0.0.1:{port}?{client}")
    source.start()
    frame = np.arange(4, dtype=np.float32)[None, :]

    def frames_within(seconds: float) -> int:
        """Frames received before the first chunk arrives or ``seconds`` pass."""
        count = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and count == 0:
            publisher.send(Chunk(frame, count, np.zeros(1), 0))
            chunk = source.read(0.02)
            count += 0 if chunk is None else chunk.n_frames
        return count

    try:
        with caplog.at_level(logging.WARNING, logger="rtdecode"):
            assert frames_within(1.5) == 0
        assert source.stats()["handshake_failures"] >= 1
        assert "refused this side's key" in caplog.text
        (keys / "allowed" / "stranger.key").write_bytes((keys / "stranger.key").read_bytes())
        assert frames_within(10.0) > 0, "the source connected again and got in"
    finally:
        source.stop()
        publisher.close()


def test_a_plain_client_is_counted_and_logged_once_like_a_wrong_key(
    keys: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    source = open_source(f"zmq+tcp://127.0.0.1:{port}?bind&{_server_options(keys)}")
    source.start()
    sink_port = free_port()
    sink = open_sink(f"zmq+tcp://127.0.0.1:{sink_port}?{_server_options(keys)}")
    sink.open(("forward", "reversal"))
    writers = [_client_socket(keys, None, zmq.PUB) for _ in range(2)]
    reader = _client_socket(keys, None, zmq.SUB)
    try:
        with caplog.at_level(logging.WARNING, logger="rtdecode"):
            for writer in writers:
                writer.connect(f"tcp://127.0.0.1:{port}")
            reader.connect(f"tcp://127.0.0.1:{sink_port}")
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                for writer in writers:
                    writer.send_multipart(encode_frame(0, 0.0, np.arange(4, dtype=np.float32)))
                assert source.read(0.02) is None, "a plain-text frame got in"
                sink.idle()
            stats = source.stats()
            refused_subscribers = sink.refused_clients  # type: ignore[attr-defined]
    finally:
        for socket in (*writers, reader):
            socket.close()
        source.stop()
        sink.close()
    assert stats["refused_clients"] == 2, "each plain producer is counted as refused"
    assert refused_subscribers == 1
    # one line per socket, not one per attempt
    assert caplog.text.count("refused a client without CURVE keys") == 2


@pytest.mark.parametrize("who", ["stranger", None])
def test_replay_says_when_the_server_refused_it(keys: Path, who: str | None) -> None:
    port = free_port()
    source = open_source(f"zmq+tcp://127.0.0.1:{port}?bind&{_server_options(keys)}")
    source.start()
    client = (
        ""
        if who is None
        else f"&key={keys / f'{who}.key_secret'}&server_key={keys / 'decoder.key'}"
    )
    command = [sys.executable, "-c", "from rtdecode.cli import main; main()", "replay"]
    command += ["--speed", "50", "--wait-s", "2"]
    command += ["--to", f"zmq+tcp://127.0.0.1:{port}?connect{client}", "--max-frames", "40"]
    replay = subprocess.Popen(command, stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while replay.poll() is None and time.monotonic() < deadline:
            assert source.read(0.1) is None, "a refused replay's frame got in"
        _, stderr = replay.communicate(timeout=60)
    finally:
        replay.kill()
        source.stop()
    err = stderr.decode()
    assert replay.returncode != 0, err
    assert "refused" in err and "no frame was delivered" in err
    assert "sent 40 frames" not in err
