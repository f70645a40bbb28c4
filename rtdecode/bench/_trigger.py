"""The trigger path's own latency: prediction in -> pulse byte written to a pty device."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import numpy as np

from rtdecode.stream import Prediction
from rtdecode.trigger import PolicyConfig, Safety, TriggerController
from rtdecode.trigger._emulator import CHILD_COMMAND
from rtdecode.trigger._serial import SerialOutput

__all__ = ["format_trigger_row", "measure_trigger"]


def measure_trigger(pulses: int = 2000, interval_s: float = 0.001) -> dict[str, Any]:
    """Drive ``pulses`` pulses through the real controller into an emulated device on a pty.

    Every other prediction is an onset (refractory 0, no caps), one every ``interval_s``. Each
    prediction is stamped as received just before it is handed over, so ``received_to_written``
    is what the trigger adds after the decoder (frame received -> byte written, less the
    decoder's own latency) and ``decision_to_written`` is the policy's decision -> byte written.

    Returns
    -------
    dict
        ``pulses`` written, ``device_pulses`` (what the device read), ``device_errors``, and the
        two latencies as ``{count, p50, p99, p99.9, max}`` in microseconds (1 % bins).
    """
    config = PolicyConfig(  # the onset rule: fires on every rise, so each pulse is a decision
        rule="onset", on=0.6, off=0.4, refractory_s=0.0, max_per_min=10 * pulses, stale_ms=1e4
    )
    # the emulated device runs in its own process, as a real device would: no shared GIL
    with subprocess.Popen(
        [sys.executable, "-c", CHILD_COMMAND],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as device:
        assert device.stdin is not None and device.stdout is not None
        try:
            controller = TriggerController(
                config,
                [SerialOutput(device.stdout.readline().strip())],
                Safety(armed=True, watchdog_s=60.0),
            )
            controller.open(("forward", "reversal"))
            try:
                for i in range(2 * pulses):
                    p = 0.9 if i % 2 else 0.1
                    probs = np.array([1 - p, p], np.float32)
                    controller.publish(
                        Prediction(i, i * interval_s, probs, i % 2, time.perf_counter_ns())
                    )
                    time.sleep(interval_s)
            finally:
                controller.close({})
            time.sleep(0.2)  # the last bytes reach the device
            device.stdin.close()
            report = json.loads(device.stdout.readline())
        finally:
            if device.poll() is None:
                device.kill()
    return {
        "pulses": controller.guard.pulses,
        "device_pulses": report["pulses"],
        "device_errors": len(report["errors"]),
        "received_to_written_us": controller.latency["trigger"].summary_us(),
        "decision_to_written_us": controller.latency["added"].summary_us(),
    }


def format_trigger_row(result: dict[str, Any]) -> str:
    """The trigger's lines of the bench table (ms)."""
    lines = []
    for key, label in (
        ("received_to_written_us", "received"),
        ("decision_to_written_us", "decision"),
    ):
        stats = result[key]
        if stats["count"]:
            lines.append(
                f"trigger {label}->byte written (pty): p50 {stats['p50'] / 1e3:.3f}  p99 "
                f"{stats['p99'] / 1e3:.3f}  p99.9 {stats['p99.9'] / 1e3:.3f}  max "
                f"{stats['max'] / 1e3:.3f} ms  ({stats['count']} pulses)"
            )
    lines.append(
        f"  device read {result['device_pulses']} of {result['pulses']} pulses, "
        f"{result['device_errors']} protocol errors"
    )
    return "\n".join(lines)
