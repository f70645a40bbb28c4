"""Memory of a decoder with the live view and one browser attached, over a long run.

Starts ``rtdecode replay --loop`` (the bundled recording) and ``rtdecode run --view``, opens
the page in headless Chromium (Playwright, the system's /usr/bin/chromium), and samples the
resident memory of the decoder process and of the view process it started every
``--every`` seconds for ``--minutes``. Writes the samples as JSON and prints the growth.

    python tools/view_memory.py --minutes 30 --out docs/view-memory.json
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

from rtdecode.view._client import open_view_page


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss_mib(process: psutil.Process) -> float:
    try:
        return process.memory_info().rss / 2**20
    except psutil.Error:
        return float("nan")


def main() -> None:
    """Run, sample, write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--speed", type=float, default=6.0, help="replay speed (6: 10 frames/s)")
    parser.add_argument("--out", type=Path, default=Path("view-memory.json"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    frames, view = _free_port(), _free_port()
    python = sys.executable
    replay = subprocess.Popen([python, "-m", "rtdecode", "replay", "--to",
                               f"zmq+tcp://127.0.0.1:{frames}", "--speed", str(args.speed),
                               "--loop"])  # fmt: skip
    run = subprocess.Popen([python, "-m", "rtdecode", "run", "--source",
                            f"zmq+tcp://127.0.0.1:{frames}", "--view", f"127.0.0.1:{view}",
                            "--quiet", "--view-linger", "0"])  # fmt: skip
    samples = []
    try:
        decoder = psutil.Process(run.pid)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = open_view_page(browser, f"http://127.0.0.1:{view}/", 120, 60)
            start = time.monotonic()
            while time.monotonic() - start < args.minutes * 60:
                children = decoder.children()
                frames_shown = page.evaluate(
                    "() => { const s = Bokeh.documents[0].get_model_by_name('trace-0');"
                    " return s ? s.data.t.length : 0 }"
                )
                samples.append({
                    "t_s": round(time.monotonic() - start, 1),
                    "decoder_mib": round(_rss_mib(decoder), 1),
                    "view_mib": round(sum(_rss_mib(c) for c in children), 1),
                    "points_on_page": frames_shown,
                })  # fmt: skip
                print(json.dumps(samples[-1]), flush=True)
                time.sleep(args.every)
            browser.close()
    finally:
        run.terminate()
        replay.terminate()
        run.wait(30)
        replay.wait(30)
    first, last = samples[min(2, len(samples) - 1)], samples[-1]  # after warm-up
    result = {
        "minutes": args.minutes,
        "speed": args.speed,
        "machine": platform.platform(),
        "cpus": psutil.cpu_count(),
        "samples": samples,
        "growth_after_warmup_mib": {
            "decoder": round(last["decoder_mib"] - first["decoder_mib"], 1),
            "view": round(last["view_mib"] - first["view_mib"], 1),
        },
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["growth_after_warmup_mib"]))


if __name__ == "__main__":
    main()
