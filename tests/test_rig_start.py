"""A failed start leaves nothing behind: no empty session file blocks the retry, and
"decoding X -> Y" is said only once the source and the sinks are open."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import zmq
from click.testing import CliRunner
from stream_support import free_port

from rtdecode.cli import cli


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", "--quiet", "--engine", "torch", *args])
    return result.exit_code, result.output


@pytest.mark.lsl
def test_a_missing_lsl_stream_leaves_no_session_file_and_the_retry_says_the_same(
    tmp_path: Path,
) -> None:
    pytest.importorskip("pylsl")
    session = tmp_path / "session.h5"
    args = ["--source", f"lsl://rtdecode-nobody-{uuid.uuid4().hex[:8]}", "--sink", str(session)]
    for _ in range(2):  # the retry meets the same problem, not "already exists"
        code, output = _run(*args, "--resolve-timeout", "0.5")
        assert code != 0 and "no LSL stream named" in output, output
        assert not session.exists()
        assert "decoding" not in output  # it never decoded, so it never said so


def test_a_port_in_use_or_a_bad_model_leaves_no_session_file(tmp_path: Path) -> None:
    session = tmp_path / "session.h5"
    source = ["--source", f"zmq+tcp://127.0.0.1:{free_port()}"]
    taken: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
    port = free_port()
    taken.bind(f"tcp://127.0.0.1:{port}")
    try:
        code, output = _run(
            *source, "--sink", f"zmq+tcp://127.0.0.1:{port}", "--sink", str(session)
        )
    finally:
        taken.close(0)
    assert code != 0 and "in use" in output and not session.exists()
    code, output = _run(*source, "--sink", str(session), "--model", str(tmp_path / "no.pt"))
    assert code != 0 and not session.exists() and "decoding" not in output
