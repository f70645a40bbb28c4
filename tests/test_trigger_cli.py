"""``rtdecode run --trigger`` as a user runs it: the real recording replayed over ZeroMQ by
``rtdecode replay``, the shipped model, an emulated serial device on a pty, a session file;
then ``rtdecode report`` on that file. Also: SIGTERM leaves the light off, and policy files
with unknown keys are refused by name."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from stream_support import free_port

from rtdecode.cli import cli
from rtdecode.trigger import DeviceEmulator

RTDECODE = [sys.executable, "-c", "from rtdecode.cli import main; main()"]


def run_loop(
    tmp_path: Path, device: DeviceEmulator, frames: int, extra: list[str]
) -> subprocess.Popen[str]:
    """Start a replay of the bundled recording and ``rtdecode run --trigger`` on it."""
    port = free_port()
    policy = tmp_path / "policy.toml"
    policy.write_text('rule = "onset"\non = 0.6\noff = 0.4\nrefractory_s = 1.0\npulse_ms = 50.0\n')
    decoder = subprocess.Popen(
        [
            *RTDECODE, "run", "--source", f"zmq+tcp://127.0.0.1:{port}", "--quiet",
            "--sink", str(tmp_path / "session.h5"), "--max-frames", str(frames),
            "--json", str(tmp_path / "summary.json"),
            "--trigger", str(policy), "--pulse-ms", "40", "--stale-ms", "400",
            "--trigger-out", f"serial://{device.port}", *extra,
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    replay = subprocess.Popen(
        [*RTDECODE, "replay", "--to", f"zmq+tcp://127.0.0.1:{port}", "--speed", "10",
         "--wait-s", "60", "--max-frames", str(frames + 50)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    decoder.replay = replay  # type: ignore[attr-defined]
    return decoder


def finish(decoder: subprocess.Popen[str]) -> tuple[str, str]:
    out, err = decoder.communicate(timeout=150)
    decoder.replay.kill()  # type: ignore[attr-defined]
    decoder.replay.wait(10)  # type: ignore[attr-defined]
    return out, err


@pytest.mark.slow
def test_run_trigger_drives_the_device_logs_every_event_and_reports(tmp_path: Path) -> None:
    with DeviceEmulator() as device:
        decoder = run_loop(tmp_path, device, 250, ["--arm"])
        out, err = finish(decoder)
        assert decoder.returncode == 0, err
        time.sleep(0.1)
    assert device.errors == []
    with h5py.File(tmp_path / "session.h5") as handle:
        policy = json.loads(handle.attrs["policy"])
        kinds = handle["triggers/kind"].asstr()[:]
        reasons = handle["triggers/reason"].asstr()[:]
        latency = handle["triggers/latency_us"][:]
        pulse_ms = handle["triggers/pulse_ms"][:]
    # the TOML file, with the flags over it
    assert (policy["refractory_s"], policy["pulse_ms"], policy["stale_ms"]) == (1.0, 40.0, 400.0)
    fires = kinds == "fire"
    assert fires.sum() > 0 and np.all(pulse_ms[fires] == 40.0)
    assert np.all(latency[fires] > 0)
    # what the device got is exactly what the log says was fired: one P40 per fire
    assert [ms for _, ms in device.pulses()] == [40] * int(fires.sum())
    assert (kinds[0], reasons[0]) == ("arm", "start") and (kinds[-1], reasons[-1]) == (
        "disarm",
        "stop",
    )
    assert device.lines[-1][1] == b"O\n" and not device.light_on  # left in the safe state
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["trigger"]["pulses"] == int(fires.sum())
    assert "trigger frame received->written (ms)" in out

    result = CliRunner().invoke(
        cli,
        ["report", str(tmp_path / "session.h5"), "--out", str(tmp_path / "r.html"), "--json",
         "--recording", str(Path(__file__).parents[1] / "rtdecode" / "resources" / "2022-08-02-31.npz")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.split("\n", 1)[1])
    assert report["fires"] == int(fires.sum())
    assert report["fire_score"]["onsets_every"] > 0  # behaviour from the recording was lined up
    page = (tmp_path / "r.html").read_text()
    assert "data:image/png;base64," in page and "onsets caught" in page


@pytest.mark.slow
def test_sigterm_stops_cleanly_with_the_light_off(tmp_path: Path) -> None:
    with DeviceEmulator() as device:
        decoder = run_loop(tmp_path, device, 100000, ["--arm", "--on", "0.0", "--off", "0.0"])
        assert device.wait_for(lambda: len(device.lines) > 5, 90)  # handshake, heartbeats
        time.sleep(3.0)
        decoder.send_signal(signal.SIGTERM)
        _, err = finish(decoder)
        assert decoder.returncode == 0, err
        time.sleep(0.1)
        assert device.lines[-1][1] == b"O\n" and not device.light_on
    with h5py.File(tmp_path / "session.h5") as handle:
        kinds = list(handle["triggers/kind"].asstr()[:])
    # disarmed at the end: by the stop, or earlier by the watchdog (a busy machine can miss
    # two frame periods at 10x speed) and not re-armed since
    assert [k for k in kinds if k in ("arm", "disarm")][-1] == "disarm"


def test_policy_file_with_unknown_keys_is_refused_by_name(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("on = 0.7\nrefactory_s = 3\n")
    result = CliRunner().invoke(
        cli, ["run", "--source", "zmq+tcp://127.0.0.1:17399", "--trigger", str(policy)]
    )
    assert result.exit_code != 0 and "refactory_s" in result.output


def test_trigger_options_without_trigger_are_refused() -> None:
    result = CliRunner().invoke(cli, ["run", "--source", "zmq+tcp://127.0.0.1:17398", "--arm"])
    assert result.exit_code != 0 and "--arm" in result.output and "--trigger" in result.output


def test_a_missing_serial_device_is_named_before_the_model_loads(tmp_path: Path) -> None:
    missing_model = tmp_path / "never-read.pt"  # loading it would fail with another message
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--source",
            "zmq+tcp://127.0.0.1:17397",
            "--model",
            str(missing_model),
            "--trigger",
            "--trigger-out",
            "serial:///dev/rtdecode-no-such-board",
        ],
    )
    assert result.exit_code != 0
    assert "no serial device /dev/rtdecode-no-such-board" in result.output
