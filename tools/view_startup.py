"""How soon the live page is up after ``rtdecode run --view`` starts.

Launches headless Chromium first (its own start is not the view's), then ``rtdecode replay
--loop`` of the bundled recording at 10 frames/s and ``rtdecode run --view``, and times, from
the decoder's ``view: URL`` line (printed once the model is loaded and the sources and sinks
are open) and from the launch of the command: the page answering over HTTP, Bokeh's document
built in the browser, and the first frame shown by the page's counter. Repeated ``--runs``
times; prints one JSON document.

    python tools/view_startup.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from _view_rig import free_port
from playwright.sync_api import sync_playwright

FRAMES_SHOWN = """() => { const d = Bokeh.documents[0]; const c = d && d.get_model_by_name('counters-0');
    const m = c ? /frames<\\/b> <span class='frames'>(\\d+)/.exec(c.text) : null;
    return m ? Number(m[1]) : -1 }"""
SPEED = 10 * 0.6  # 10 frames/s of the bundled recording (0.6 s a frame)


def _line_time(stream: Any, prefix: str, found: dict[str, float]) -> None:
    """Note when the decoder's line starting with ``prefix`` comes (not the page process's own,
    which ends with "(Ctrl-C stops)"); read the rest to the end."""
    for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        if "view" not in found and line.startswith(prefix) and not line.endswith("stops)"):
            found["view"] = time.monotonic()


def _answering(url: str, deadline: float) -> float:
    """Poll ``url`` every 20 ms until it answers; when it did."""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return time.monotonic()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.02)
    raise TimeoutError(f"{url} did not answer")


def one_run(browser: Any) -> dict[str, float]:
    """One start of the decoder with its view; seconds from its ``view:`` line and launch."""
    frames, view = free_port(), free_port()
    rtdecode = [sys.executable, "-m", "rtdecode"]
    replay = subprocess.Popen([*rtdecode, "replay", "--to", f"zmq+tcp://127.0.0.1:{frames}",
                               "--speed", str(SPEED), "--loop"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    launched = time.monotonic()
    run = subprocess.Popen([*rtdecode, "run", "--source", f"zmq+tcp://127.0.0.1:{frames}",
                            "--view", f"127.0.0.1:{view}", "--view-linger", "0"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    found: dict[str, float] = {}
    reader = threading.Thread(target=_line_time, args=(run.stderr, "view: http", found))
    reader.start()
    page = browser.new_page()
    try:
        url = f"http://127.0.0.1:{view}/"
        answered = _answering(url, launched + 180)
        page.goto(url, timeout=60_000)
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0",
                               timeout=60_000)  # fmt: skip
        document = time.monotonic()
        page.wait_for_function(f"() => ({FRAMES_SHOWN})() > 0", polling=20, timeout=60_000)
        shown = time.monotonic()
    finally:
        page.close()
        run.terminate()
        replay.terminate()
        run.wait(30)
        replay.wait(30)
        reader.join(10)
    start = found["view"]
    return {
        "line_after_launch_s": round(start - launched, 2),
        "answering_s": round(answered - start, 2),
        "document_s": round(document - start, 2),
        "first_frame_s": round(shown - start, 2),
        "first_frame_after_launch_s": round(shown - launched, 2),
    }


def main() -> None:
    """Run, measure, print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        try:
            runs = [one_run(browser) for _ in range(args.runs)]
        finally:
            browser.close()
    print(json.dumps({"runs": runs, "load_average": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
