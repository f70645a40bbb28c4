"""The screenshot of the live view in docs/: a real decoder on the bundled recording, in Chromium.

Starts ``rtdecode replay --loop --behavior`` (10 frames/s, with the tracked behaviour) and ``rtdecode run --view --trigger --arm``
(trigger events on a ZeroMQ output), opens the page in headless Chromium (Playwright, the
system's /usr/bin/chromium) once ``--wait`` seconds of decoding have scrolled in, and saves a
full-page PNG.

    python tools/view_screenshot.py --out docs/view.png
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from rtdecode.view._client import open_view_page


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    """Run the decoder, wait, take the picture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/view.png"))
    parser.add_argument("--wait", type=float, default=60.0, help="seconds of decoding first")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    frames, view, triggers = _free_port(), _free_port(), _free_port()
    rtdecode = [sys.executable, "-m", "rtdecode"]
    replay = subprocess.Popen([*rtdecode, "replay", "--to", f"zmq+tcp://127.0.0.1:{frames}",
                               "--speed", "6", "--loop", "--behavior"])  # fmt: skip
    run = subprocess.Popen([*rtdecode, "run", "--source", f"zmq+tcp://127.0.0.1:{frames}",
                            "--view", f"127.0.0.1:{view}", "--view-linger", "0", "--quiet",
                            "--abstain", "0.3,0.7", "--trigger", "--arm", "--trigger-out",
                            f"zmq+tcp://127.0.0.1:{triggers}", "--refractory-s", "5",
                            "--max-pulses", "40", "--stale-ms", "2000"])  # fmt: skip
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = open_view_page(
                browser,
                f"http://127.0.0.1:{view}/",
                180,
                120,
                viewport={"width": 1400, "height": 1000},
            )
            page.wait_for_timeout(args.wait * 1e3)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
    finally:
        run.terminate()
        replay.terminate()
        run.wait(30)
        replay.wait(30)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
