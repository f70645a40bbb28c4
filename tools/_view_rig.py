"""What the view tools share: a decoder with its live view on a looped replay of the bundled
recording, and one headless Chromium page on that view (``view_cpu``, ``view_memory``,
``view_rate``, ``view_screenshot``)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import sync_playwright

from rtdecode.view._client import open_view_page


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ViewRig:
    """The running processes and the page on the view."""

    run: subprocess.Popen[bytes]
    replay: subprocess.Popen[bytes]
    page: Any


@contextmanager
def view_rig(
    speed: float,
    chromium: str | None,
    replay_args: Sequence[str] = (),
    run_args: Sequence[str] = (),
    timeouts_s: tuple[float, float] = (120.0, 60.0),
    **page_options: Any,
) -> Iterator[ViewRig]:
    """``rtdecode replay --loop`` at ``speed`` into ``rtdecode run --view --quiet``, and a page
    of a headless Chromium (``chromium``: its binary) on the view, opened within
    ``timeouts_s`` (the view's start, then Bokeh's document); both processes are stopped and
    the browser closed on leaving."""
    frames, view = free_port(), free_port()
    rtdecode = [sys.executable, "-m", "rtdecode"]
    replay = subprocess.Popen([*rtdecode, "replay", "--to", f"zmq+tcp://127.0.0.1:{frames}",
                               "--speed", str(speed), "--loop", *replay_args])  # fmt: skip
    run = subprocess.Popen([*rtdecode, "run", "--source", f"zmq+tcp://127.0.0.1:{frames}",
                            "--view", f"127.0.0.1:{view}", "--view-linger", "0", "--quiet",
                            *run_args])  # fmt: skip
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                page = open_view_page(
                    browser, f"http://127.0.0.1:{view}/", *timeouts_s, **page_options
                )
                yield ViewRig(run, replay, page)
            finally:
                browser.close()
    finally:
        run.terminate()
        replay.terminate()
        run.wait(30)
        replay.wait(30)
