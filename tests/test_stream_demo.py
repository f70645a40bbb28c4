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
