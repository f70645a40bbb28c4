"""``rtdecode run`` refuses what it cannot use with a message that says what would work."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from rtdecode.cli import cli


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
