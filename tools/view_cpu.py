"""Where the live view's CPU goes: the decoder, the view process and the browser, per process.

Starts ``rtdecode replay --loop`` (the bundled recording; speed 6 is 10 frames/s) and ``rtdecode
run --view``, opens the page in headless Chromium (Playwright, the system's Chromium), waits
``--settle`` seconds, then measures each process's CPU time over ``--seconds`` and prints it as
a percentage of one core, with Chromium split by process type (renderer, GPU, browser).

    python tools/view_cpu.py --seconds 30
"""

from __future__ import annotations

import argparse
import json
import re
import time

import psutil
from _view_rig import view_rig

from rtdecode.view._client import chromium_path


def _cpu_s(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def _kind(process: psutil.Process) -> str:
    """``chromium renderer``, ``chromium gpu-process``, ``playwright driver``, ..."""
    try:
        line = " ".join(process.cmdline())
    except psutil.Error:
        return "gone"
    if "chrom" not in process.name():
        return "playwright driver"
    found = re.search(r"--type=([\w-]+)", line)
    return f"chromium {found.group(1) if found else 'browser'}"


def main() -> None:
    """Run, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--speed", type=float, default=6.0, help="replay speed (6: 10 frames/s)")
    args = parser.parse_args()
    with view_rig(args.speed, chromium_path()) as rig:
        decoder = psutil.Process(rig.run.pid)
        time.sleep(args.settle)
        groups = {
            "decoder": [decoder],
            "view process": decoder.children(),
            "replay": [psutil.Process(rig.replay.pid)],
        }
        for process in psutil.Process().children(recursive=True):
            if (
                process.pid not in (rig.run.pid, rig.replay.pid)
                and process not in groups["view process"]
            ):
                groups.setdefault(_kind(process), []).append(process)
        before = {name: [_cpu_s(p) for p in ps] for name, ps in groups.items()}
        start = time.monotonic()
        time.sleep(args.seconds)
        wall = time.monotonic() - start
        after = {name: [_cpu_s(p) for p in ps] for name, ps in groups.items()}
    percent = {
        name: round(100.0 * (sum(after[name]) - sum(before[name])) / wall, 1) for name in groups
    }
    print(json.dumps({"percent_of_one_core": percent, "load": psutil.getloadavg()}))


if __name__ == "__main__":
    main()
