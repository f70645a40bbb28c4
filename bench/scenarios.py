"""Benchmark scenarios as code: run ``python bench/scenarios.py NAME ...`` to repeat one.

Each scenario is a list of ``rtdecode bench`` options. Results go to ``bench/results/NAME.json``
and ``bench/results/NAME.png`` beside this file; ``--list`` shows what each one measures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

SCENARIOS: dict[str, tuple[str, list[str]]] = {
    "default": (
        "the issue's default: every engine, 150 neurons, 10 Hz and 1 kHz, ceiling (< 3 min)",
        ["--engine", "all"],
    ),
    "microscope": (
        "microscope rates where the idle penalty bites: 1, 5 and 10 Hz, 30 s each (with the "
        "hop and three engines: --seconds is the whole run's budget)",
        ["--engine", "all", "--rate", "1", "--rate", "5", "--rate", "10", "--seconds", "360",
         "--min-frames", "30", "--no-ceiling"],
    ),
    "microscope-busy-poll": (
        "the microscope scenario with the decoder busy-polling instead of sleeping",
        ["--engine", "all", "--rate", "1", "--rate", "5", "--rate", "10", "--seconds", "360",
         "--min-frames", "30", "--no-ceiling", "--busy-poll"],
    ),
    "high-rate": (
        "high rates: 1, 2 and 5 kHz for 5 s each, then a 5 s ceiling search (three engines)",
        ["--engine", "all", "--rate", "1000", "--rate", "2000", "--rate", "5000", "--seconds", "75"],
    ),
    "neurons": (
        "150 vs 302 neurons (a whole hermaphrodite nervous system) at 10 Hz and 1 kHz",
        ["--engine", "all", "--neurons", "150", "--neurons", "302", "--seconds", "120"],
    ),
    "two-threads": (
        "the default run with two engine threads (run's default is one) on this 2-core machine",
        ["--engine", "all", "--threads", "2"],
    ),
    "streams": (
        "1, 4 and 8 streams at 10 Hz, 150 neurons each, into one numba decoder; frames locked "
        "and staggered (30 s each)",
        ["--engine", "numba", "--rate", "10", "--seconds", "300", "--streams", "1", "--streams",
         "4", "--streams", "8", "--stream-phase", "locked", "--stream-phase", "staggered",
         "--no-ceiling"],
    ),
    "soak": (
        "10 minutes at 1 kHz on the default engine (the hop stops at 30 s of its half of "
        "--seconds): watch rss_growth_mib and the p99.9",
        ["--engine", "torch", "--rate", "1000", "--seconds", "1200", "--no-ceiling"],
    ),
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the named scenarios one after the other; return the first non-zero exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="scenarios to run (default: default)")
    parser.add_argument("--list", action="store_true", help="describe every scenario and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, (about, options) in SCENARIOS.items():
            print(f"{name:22} {about}\n{'':22} rtdecode bench {' '.join(options)}")
        return 0
    unknown = [n for n in args.names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {sorted(SCENARIOS)}")
    RESULTS.mkdir(exist_ok=True)
    for name in args.names or ["default"]:
        options = SCENARIOS[name][1]
        out = ["--json", str(RESULTS / f"{name}.json"), "--plot", str(RESULTS / f"{name}.png")]
        command = [sys.executable, "-c", "from rtdecode.cli import main; main()", "bench"]
        print(f"== {name}: rtdecode bench {' '.join(options)}", flush=True)
        code = subprocess.call([*command, *options, *out])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
