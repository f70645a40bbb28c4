"""One browser on the page, for measurements: headless Chromium driven by Playwright.

Playwright cannot download a browser on lab machines (often offline): this uses the system's
Chromium (``/usr/bin/chromium``, the Debian package, or ``RTDECODE_CHROMIUM``).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from typing import Any

from rtdecode.errors import ConfigError, MissingDependencyError

__all__ = ["BrowserClient", "chromium_path", "open_view_page"]


def chromium_path() -> str | None:
    """The Chromium binary to drive, or ``None`` when there is none."""
    return os.environ.get("RTDECODE_CHROMIUM") or shutil.which("chromium")


def open_view_page(
    browser: Any,
    url: str,
    start_timeout_s: float,
    ready_timeout_s: float,
    stop: threading.Event | None = None,
    **page_options: Any,
) -> Any:
    """A new page of a Playwright ``browser`` on the view at ``url``, once it is served and
    Bokeh holds its document.

    Parameters
    ----------
    browser
        A launched Playwright browser.
    url
        The view's address.
    start_timeout_s
        How long to keep retrying while the view process is still starting.
    ready_timeout_s
        How long Bokeh may take to build the document once the page is served.
    stop
        Set to give up retrying at once.
    **page_options
        Passed to ``browser.new_page`` (e.g. ``viewport``).
    """
    page = browser.new_page(**page_options)
    deadline = time.monotonic() + start_timeout_s
    while True:  # the view process may still be starting
        try:
            page.goto(url, timeout=start_timeout_s * 1e3)
            break
        except Exception:
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                raise
            page.wait_for_timeout(500)
    page.wait_for_function(
        "() => window.Bokeh && Bokeh.documents.length > 0", timeout=ready_timeout_s * 1e3
    )
    return page


class BrowserClient:
    """Keeps one headless Chromium on ``url`` (on a thread of its own) until :meth:`close`.

    Raises
    ------
    MissingDependencyError, ConfigError
        Without Playwright; without a Chromium binary.
    RuntimeError
        When the page did not load within ``timeout_s``.

    Parameters
    ----------
    url
        The page.
    timeout_s
        How long the page may take to load.
    cores
        Run the browser on these cores only (``None``: wherever the system puts it).
    """

    def __init__(self, url: str, timeout_s: float = 120.0, cores: set[int] | None = None) -> None:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError("playwright", "dev", "a browser on the view") from exc
        executable = chromium_path()
        if executable is None:
            raise ConfigError(
                "no Chromium to open the view in: install the Debian package (apt-get install "
                "chromium) or set RTDECODE_CHROMIUM to a Chromium binary"
            )
        self._url, self._executable, self._timeout_s = url, executable, timeout_s
        self._cores = cores
        self._ready, self._stop = threading.Event(), threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._hold, name="rtdecode-view-browser")
        self._thread.start()
        if not self._ready.wait(timeout_s + 30) or self._error is not None:
            self.close()
            raise RuntimeError(f"the view at {url} did not load in Chromium ({self._error})")

    def _hold(self) -> None:
        from playwright.sync_api import sync_playwright

        if self._cores is not None:  # this thread's pinning; Playwright and Chromium inherit it
            os.sched_setaffinity(0, self._cores)
        try:
            with sync_playwright() as playwright:
                browser: Any = playwright.chromium.launch(
                    executable_path=self._executable, args=["--no-sandbox"]
                )
                page = open_view_page(
                    browser, self._url, self._timeout_s, self._timeout_s, self._stop
                )
                self._ready.set()
                while not self._stop.is_set():
                    page.wait_for_timeout(200)  # the page renders every update meanwhile
                browser.close()
        except Exception as exc:  # reported by __init__ or ignored at close
            self._error = exc
            self._ready.set()

    def close(self) -> None:
        """Close the browser."""
        self._stop.set()
        self._thread.join(60)
