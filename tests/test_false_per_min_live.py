"""``rtdecode run --false-per-min B``: the armed rule's threshold set live from the calibration period.

The bundled recording is replayed with its tracked behaviour (``rtdecode replay --behavior``) over
ZeroMQ into ``rtdecode run --trigger --arm`` driving an emulated serial device. When the 60 s of
self-calibration end, the decoder chooses the animal's own threshold for a budget of B false
triggers per minute, logs it, keeps it in the session file and the summary, and the armed rule
fires on it from then on.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest
from stream_support import free_port

from rtdecode.stream import read_session
from rtdecode.trigger import DeviceEmulator

pytestmark = pytest.mark.timeout(300)

RTDECODE = [sys.executable, "-c", "from rtdecode.cli import main; main()"]
FRAMES = 400  # 240 s of the recording: 10 s settling, 60 s calibration, about 170 s armed
BUDGET = 1.0
SPEED = 15  # the replay runs this much faster than life


@pytest.fixture(scope="module", params=[(), ("--fused", "shipped")], ids=["calibrated", "fused"])
def session(tmp_path_factory: pytest.TempPathFactory, request: Any) -> dict[str, Any]:
    """One closed-loop run with ``--false-per-min`` over a replay with behaviour: the threshold
    set on the calibrated head's scores, or (``--fused``) on the fused decision's."""
    folder = tmp_path_factory.mktemp("budget")
    rig = folder / "rig.toml"
    # The replay runs 15x faster than life: the rule runs on the frames' own clock, and a busy
    # machine must not make frames stale or trip the watchdog.
    rig.write_text(
        "[policy]\nrefractory_s = 5.0\npulse_ms = 40.0\nstale_ms = 5000.0\n"
        "[safety]\nframe_clock = true\nwatchdog_ms = 5000.0\n"
    )
    uri = f"zmq+tcp://127.0.0.1:{free_port()}"
    with DeviceEmulator() as device:
        decoder = subprocess.Popen(
            [
                *RTDECODE, "run", "--config", str(rig), "--source", uri, "--quiet",
                "--sink", str(folder / "session.h5"), "--json", str(folder / "summary.json"),
                "--decode-every-frame", "--calibrate", "60",
                "--false-per-min", str(BUDGET), "--arm", "--trigger-out",
                f"serial://{device.port}", *request.param,
            ],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            subprocess.run(
                [*RTDECODE, "replay", "--to", uri, "--speed", str(SPEED), "--behavior",
                 "--wait-s", "60", "--max-frames", str(FRAMES)],
                check=True, capture_output=True, timeout=150,
            )  # fmt: skip
            time.sleep(2.0)  # the frames in flight
            decoder.send_signal(signal.SIGINT)
            _, err = decoder.communicate(timeout=150)
        finally:
            decoder.kill()
        pulses = device.pulses()
    assert decoder.returncode == 0, err
    return {
        "fused": bool(request.param),
        "err": err,
        "summary": json.loads((folder / "summary.json").read_text()),
        "data": read_session(folder / "session.h5"),
        "pulses": pulses,
    }


def test_the_threshold_is_chosen_logged_and_kept(session: dict[str, Any]) -> None:
    saved = session["data"].calibration["threshold"]
    assert saved["budget_per_min"] == BUDGET and np.isfinite(saved["threshold"])
    # Within budget on its own calibration period (scored from its first out-of-sample score).
    assert 0.5 < saved["minutes"] <= 1.1
    assert saved["allowed_false"] == int(BUDGET * saved["minutes"] + 1e-9)
    assert saved["false_at_threshold"] <= saved["allowed_false"]
    assert session["summary"]["calibration"]["threshold"] == saved
    assert session["summary"]["trigger"]["threshold"]["threshold"] == saved["threshold"]
    assert (
        f"--false-per-min {BUDGET:g}: trigger threshold logit {saved['threshold']:.3f}"
        in (session["err"])
    )


def test_the_armed_rule_fires_on_the_chosen_threshold(session: dict[str, Any]) -> None:
    data = session["data"]
    threshold = data.calibration["threshold"]["threshold"]
    triggers, predictions = data.triggers, data.predictions
    fires = triggers["kind"] == "fire"
    assert fires.sum() > 0
    assert len(session["pulses"]) == int(fires.sum())  # the device got every fire
    # Every fire after the choice is at a frame whose reversal logit reached the threshold.
    p = predictions["probs"][:, 1].astype(np.float64)
    logit = np.log(np.clip(p, 1e-4, 1 - 1e-4) / np.clip(1 - p, 1e-4, 1))
    at = {int(s): v for s, v in zip(predictions["seq"], logit, strict=True)}
    later = fires & (triggers["seq"] > _threshold_from(session))
    assert later.sum() > 0
    assert all(at[int(seq)] >= threshold - 1e-3 for seq in triggers["seq"][later])


def _threshold_from(session: dict[str, Any]) -> int:
    """The seq after which the chosen threshold surely rules: the fused decision's or the
    calibrated head's first prediction; when 60 s were too little evidence to switch (the shipped model decides, its
    threshold chosen on its own scores), the end of the calibration period plus the fit's
    time at the replay's speed, twice over and a second more, in frame time."""
    predictions = session["data"].predictions
    decided = predictions["seq"][predictions["head"] == (2 if session["fused"] else 1)]
    if len(decided):
        return int(decided.min())
    calibration = session["summary"]["calibration"]
    assert calibration["chosen"] == "shipped" and calibration["fit_s"] is not None
    t = predictions["t"]
    fit_done = t[0] + 10.0 + calibration["collected_s"] + SPEED * (2 * calibration["fit_s"] + 1)
    return int(predictions["seq"][min(np.searchsorted(t, fit_done), len(t) - 1)])
