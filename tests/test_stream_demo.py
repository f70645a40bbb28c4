"""``rtdecode demo``: the bundled recording through real ZeroMQ into the shipped model."""

from __future__ import annotations

import re
import subprocess
import sys

RTDECODE = [sys.executable, "-c", "from rtdecode.cli import main; main()"]


def test_demo_prints_predictions_beside_behaviour_then_accuracy_and_latency() -> None:
    result = subprocess.run(
        [*RTDECODE, "demo", "--speed", "100"], capture_output=True, text=True, timeout=110
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    rows = re.findall(
        r"^\s+[\d.]+s\s+\d+\s+(forward|reversal)\s+[\d.]+\s+(forward|reversal)", out, re.M
    )
    assert len(rows) >= 10, out
    accuracy = re.search(r"balanced accuracy (\d\.\d{3}) against the recorded reversals", out)
    assert accuracy and 0.0 <= float(accuracy.group(1)) <= 1.0, out
    assert "frames 800" in out and "malformed messages 0" in out
    assert re.search(r"^decoder total\s+\d+\.\d{3}\s+\d+\.\d{3}", out, re.M), out


def test_demo_trigger_drives_an_emulated_device_and_scores_the_pulses() -> None:
    result = subprocess.run(
        [*RTDECODE, "demo", "--trigger", "--speed", "100", "--every", "1000"],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    sent = re.search(
        r"trigger: (\d+) pulses written to the emulated device .*; it got (\d+) \(0 protocol errors\)",
        out,
    )
    assert sent and int(sent.group(1)) == int(sent.group(2)) > 0, out
    caught = re.search(r"reversal onsets caught (\d+)/(\d+) .*false triggers (\d+\.\d+)/min", out)
    assert caught and int(caught.group(2)) > 0 and int(caught.group(1)) <= int(caught.group(2)), out
    assert re.search(r"trigger latency, frame received -> byte written: p50 \d+\.\d{3} ms", out), (
        out
    )


def test_demo_calibrate_sends_the_behaviour_and_says_which_head_won() -> None:
    result = subprocess.run(
        [*RTDECODE, "demo", "--calibrate", "60", "--speed", "100", "--every", "1000"],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "behavior 800 samples  lost 0" in out, out
    won = re.search(r"calibration: head (calibrated|shipped) \((.+)\); held-back AUROC", out)
    assert won and won.group(2), out
    assert "(60 of 60 s with behaviour)" in out, out
    # 60 s of this animal held back 2 reversal frames: a head chosen on them once decoded
    # at 0.5; the evidence rule (too few frames, or an interval that does not clear) now
    # keeps the shipped model and its accuracy
    assert won.group(1) == "shipped", out
    assert "too little evidence" in won.group(2) or "not surely" in won.group(2), out
    accuracy = re.search(r"balanced accuracy (\d\.\d+) against", out)
    assert accuracy and float(accuracy.group(1)) > 0.85, out
