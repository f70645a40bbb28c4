"""The live view in a real headless Chromium, against a real decoder on a replayed recording.

One decoder for the module: ``rtdecode replay --loop`` (the bundled recording at 10 frames/s)
into ``rtdecode run --view --trigger --arm`` with a ZeroMQ trigger output and prediction sink
the tests subscribe to. Needs the ``view`` extra, Playwright and the system's Chromium (Debian
package ``chromium``; Playwright cannot download a browser here): skipped, saying which is
missing, without them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from stream_support import free_port

pytest.importorskip("bokeh", reason="the view needs the 'view' extra (pip install rtdecode[view])")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright (pip install playwright)"
)
CHROMIUM = os.environ.get("RTDECODE_CHROMIUM") or shutil.which("chromium") or ""
if not CHROMIUM:
    pytest.skip(
        "no Chromium: install the Debian package (apt-get install chromium) or set "
        "RTDECODE_CHROMIUM to a Chromium binary",
        allow_module_level=True,
    )

RTDECODE = [sys.executable, "-c", "from rtdecode.cli import main; main()"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

TRACE_LENGTH = """() => { const d = Bokeh.documents[0];
    const s = d && d.get_model_by_name('trace-0'); return s ? s.data.t.length : -1 }"""
FRAMES_SHOWN = """() => { const d = Bokeh.documents[0]; const c = d && d.get_model_by_name('counters-0');
    const m = c ? /frames<\\/b> <span class='frames'>(\\d+)/.exec(c.text) : null;
    return m ? Number(m[1]) : -1 }"""


class Decoder:
    """The replay and the decoder with its view, and sockets on its outputs."""

    def __init__(self, tmp: Path) -> None:
        frames, self.view_port = free_port(), free_port()
        self.preds_port, self.trigger_port = free_port(), free_port()
        self.replay = subprocess.Popen(
            [*RTDECODE, "replay", "--to", f"zmq+tcp://127.0.0.1:{frames}", "--speed", "6",
             "--loop"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.log = (tmp / "run.log").open("w")
        self.run = subprocess.Popen(
            [*RTDECODE, "run", "--source", f"zmq+tcp://127.0.0.1:{frames}",
             "--sink", f"zmq+tcp://127.0.0.1:{self.preds_port}",
             "--view", f"127.0.0.1:{self.view_port}", "--view-linger", "0", "--quiet",
             "--trigger", "--arm", "--trigger-out", f"zmq+tcp://127.0.0.1:{self.trigger_port}",
             "--refractory-s", "1", "--max-per-min", "60", "--stale-ms", "2000"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        context = zmq.Context.instance()
        self.triggers = context.socket(zmq.SUB)
        self.triggers.setsockopt(zmq.SUBSCRIBE, b"trigger")
        self.triggers.connect(f"tcp://127.0.0.1:{self.trigger_port}")
        self.preds = context.socket(zmq.SUB)
        self.preds.setsockopt(zmq.SUBSCRIBE, b"pred")
        self.preds.connect(f"tcp://127.0.0.1:{self.preds_port}")
        self.url = f"http://127.0.0.1:{self.view_port}/"

    def wait_page(self, timeout_s: float = 240.0) -> None:
        """Until the page answers (the decoder and the view process start slowly)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.run.poll() is None, "the decoder exited; see run.log"
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(1.0)
        raise AssertionError(f"the view at {self.url} did not answer in {timeout_s} s")

    @staticmethod
    def drain(socket: zmq.Socket[bytes]) -> None:
        """Drop what a subscriber holds already (messages from before the test)."""
        while socket.poll(0):
            socket.recv_multipart()

    def predictions(self, seconds: float) -> list[dict[str, Any]]:
        """Prediction messages received over the next ``seconds``."""
        self.drain(self.preds)
        out = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.preds.poll(100):
                out.append(json.loads(self.preds.recv_multipart()[1]))
        return out

    def close(self) -> None:
        for process in (self.run, self.replay):
            process.terminate()
        for process in (self.run, self.replay):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.triggers.close()
        self.preds.close()
        self.log.close()


@pytest.fixture(scope="module")
def decoder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Decoder]:
    running = Decoder(tmp_path_factory.mktemp("view"))
    try:
        running.wait_page()
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def _open(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=60_000)
    return page, errors


def test_the_page_loads_cleanly_and_its_trace_and_frame_counter_advance(
    decoder: Decoder, browser: Any
) -> None:
    page, errors = _open(browser, decoder.url)
    # the counter and the trace arrive in separate updates: wait until both show something
    page.wait_for_function(
        f"() => ({FRAMES_SHOWN})() > 0 && ({TRACE_LENGTH})() > 0", timeout=120_000
    )
    first = page.evaluate(TRACE_LENGTH), page.evaluate(FRAMES_SHOWN)
    page.wait_for_timeout(2000)
    second = page.evaluate(TRACE_LENGTH), page.evaluate(FRAMES_SHOWN)
    assert second[0] > first[0] > 0, f"trace points {first[0]} then {second[0]}"
    assert second[1] > first[1] > 0, f"frame counter {first[1]} then {second[1]}"
    assert "live" in page.evaluate("() => Bokeh.documents[0].get_model_by_name('status-0').text")
    assert errors == []
    page.close()


def test_a_trigger_fire_appears_as_a_mark_within_one_second(decoder: Decoder, browser: Any) -> None:
    page, errors = _open(browser, decoder.url)
    page.wait_for_function(f"() => ({FRAMES_SHOWN})() > 0", timeout=120_000)
    decoder.drain(decoder.triggers)
    deadline = time.monotonic() + 180
    fire = None
    while fire is None and time.monotonic() < deadline:
        if decoder.triggers.poll(500):
            event = json.loads(decoder.triggers.recv_multipart()[1])
            fire = event if event["kind"] == "fire" else None
    assert fire is not None, "the decoder fired no pulse in 3 minutes of replay"
    page.wait_for_function(
        """seq => { const s = Bokeh.documents[0].get_model_by_name('events-0');
        return s.data.seq.some((v, i) => v === seq && s.data.marker[i] === 'fire') }""",
        arg=fire["seq"],
        timeout=1000,
    )
    assert errors == []
    page.close()


class StalledClient:
    """A real Bokeh client that connects, takes the document and then never reads again (its
    loop does not run), on a thread of its own (Playwright's sync API runs a loop here)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._release = threading.Event()
        self._ready = threading.Event()
        self.connected = False
        self._thread = threading.Thread(target=self._hold)
        self._thread.start()
        self._ready.wait(120)

    def _hold(self) -> None:
        from bokeh.client import pull_session

        asyncio.set_event_loop(asyncio.new_event_loop())
        session = pull_session(url=self._url)
        self.connected = session.connected
        self._ready.set()
        self._release.wait(300)
        session.close()

    def close(self) -> None:
        self._release.set()
        self._thread.join(60)


def test_a_stalled_client_costs_the_decoder_nothing(decoder: Decoder, browser: Any) -> None:
    page, errors = _open(browser, decoder.url)
    before = decoder.predictions(8.0)
    stalled = StalledClient(decoder.url)  # its updates pile up in the view process
    assert stalled.connected
    try:
        during = decoder.predictions(15.0)
        shown = page.evaluate(FRAMES_SHOWN)
        page.wait_for_timeout(1500)
        assert page.evaluate(FRAMES_SHOWN) > shown, "the page stopped for the other client"
    finally:
        stalled.close()
    # The decoder decodes the same share of its frames during the stall as before it (on a
    # shared machine it may skip some under load either way), and its tap loses nothing.
    share = {}
    for name, preds in (("before", before), ("during the stall", during)):
        seqs = [p["seq"] for p in preds]
        assert len(seqs) > 20, f"{name}: only {len(seqs)} predictions"
        share[name] = len(seqs) / (seqs[-1] - seqs[0] + 1)
    assert share["during the stall"] >= share["before"] - 0.1, share
    counters = page.evaluate("() => Bokeh.documents[0].get_model_by_name('counters-0').text")
    assert "view tap 0)" in counters, counters
    assert errors == []
    page.close()


def test_beyond_loopback_the_page_needs_its_token(decoder: Decoder, browser: Any) -> None:
    port = free_port()
    viewer = subprocess.Popen(
        [*RTDECODE, "view", "--connect", f"zmq+tcp://127.0.0.1:{decoder.trigger_port}",
         "--bind", f"0.0.0.0:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert viewer.stdout is not None
        line = ""
        while "token=" not in line:
            line = viewer.stdout.readline()
            assert line, "the view printed no address with a token"
        token = re.search(r"token=([\w-]+)", line).group(1)  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}/"
        for url in (base, f"{base}?token=wrong"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(url, timeout=30)
            assert refused.value.code == 401
            assert "access token" in refused.value.read().decode()
        page, errors = _open(browser, f"{base}?token={token}")
        assert errors == []
        page.close()
        taken = subprocess.run(
            [*RTDECODE, "view", "--connect", f"zmq+tcp://127.0.0.1:{decoder.trigger_port}",
             "--bind", f"0.0.0.0:{port}"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert taken.returncode != 0
        assert f"view port {port} on 0.0.0.0 is in use" in taken.stderr
    finally:
        viewer.terminate()
        viewer.wait(30)
        viewer.stdout.close()  # type: ignore[union-attr]


def _wait_answers(url: str, process: subprocess.Popen[Any], timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the process serving the page exited"
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1.0)
    raise AssertionError(f"{url} did not answer in {timeout_s} s")


def test_a_stopped_decoder_leaves_its_summary_and_its_session_opens_with_a_slider(
    tmp_path: Path, browser: Any
) -> None:
    from rtdecode.stream import read_activity, read_session

    frames, view, again = free_port(), free_port(), free_port()
    session = tmp_path / "session.h5"
    replay = subprocess.Popen(
        [*RTDECODE, "replay", "--to", f"zmq+tcp://127.0.0.1:{frames}", "--speed", "20", "--loop"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    run = subprocess.Popen(
        [*RTDECODE, "run", "--source", f"zmq+tcp://127.0.0.1:{frames}", "--sink", str(session),
         "--max-frames", "300", "--view", f"127.0.0.1:{view}", "--view-linger", "300", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    viewer = None
    try:
        _wait_answers(f"http://127.0.0.1:{view}/", run)
        page, errors = _open(browser, f"http://127.0.0.1:{view}/")
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('status-0').text.includes('stopped')",
            timeout=240_000,
        )
        status = page.evaluate("() => Bokeh.documents[0].get_model_by_name('status-0').text")
        assert "300 frames" in status and "p99" in status
        assert errors == []
        page.close()
        run.terminate()
        run.wait(60)
        predictions = len(read_session(session).predictions["t"])
        viewer = subprocess.Popen(
            [*RTDECODE, "view", str(session), "--bind", f"127.0.0.1:{again}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_answers(f"http://127.0.0.1:{again}/", viewer)
        page, errors = _open(browser, f"http://127.0.0.1:{again}/")
        page.wait_for_function(f"() => ({TRACE_LENGTH})() === {predictions}", timeout=60_000)
        # the session keeps the activity: raster, manifold and the model's graph, at the end
        page.wait_for_function(f"() => ({ACTIVITY_SHOWN})() === {predictions}", timeout=120_000)
        # at the slider's time: the frames up to then, the graph of the window ending there
        t = read_activity(session)
        assert t is not None
        middle = float(t.t[len(t) // 2] - read_session(session).predictions["t"][0])
        page.evaluate(f"() => {{ Bokeh.documents[0].get_model_by_name('time').value = {middle} }}")
        page.wait_for_function(f"() => ({ACTIVITY_SHOWN})() === {len(t) // 2 + 1}", timeout=30_000)
        page.evaluate("() => { Bokeh.documents[0].get_model_by_name('time').value = 5.0 }")
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('x-0').end === 5.0", timeout=30_000
        )
        page.wait_for_function(  # too early for a full window: no graph
            "() => Bokeh.documents[0].get_model_by_name('graph-0').data.x0.length === 0",
            timeout=30_000,
        )
        assert errors == []
        page.close()
    finally:
        for process in (run, replay, viewer):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(60)


ACTIVITY_SHOWN = """() => { const d = Bokeh.documents[0];
    const r = d.get_model_by_name('raster-0'), m = d.get_model_by_name('manifold-0');
    const g = d.get_model_by_name('graph-0');
    const full = r.data.image.length === 1 && r.data.dh[0] > 50 && g.data.x0.length > 10;
    return full ? m.data.pc1.length : -1 }"""
"""The manifold's points once the raster and the graph show data too (-1 before)."""


def _replay(port: int) -> subprocess.Popen[bytes]:
    """The bundled recording, looped at 10 frames/s, to a ZeroMQ address on ``port``."""
    return subprocess.Popen(
        [*RTDECODE, "replay", "--to", f"zmq+tcp://127.0.0.1:{port}", "--speed", "6", "--loop"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


SHOWN = """(text) => { const seen = (root) => { for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot && seen(el.shadowRoot)) return true;
      if (el.classList.contains('bk-clearfix') && el.textContent.replace(/\\s+/g, ' ') === text
          && el.checkVisibility({visibilityProperty: true, opacityProperty: true})) return true; }
    return false; }; return seen(document) }"""
"""Whether some rendered element (Bokeh draws inside shadow roots) shows ``text``."""


def _shown(page: Any, text: str) -> bool:
    return bool(page.evaluate(f"({SHOWN})({json.dumps(text)})"))


def _frames_shown(stream: int) -> str:
    return FRAMES_SHOWN.replace("counters-0", f"counters-{stream}")


def test_several_sources_get_a_tab_each_that_the_user_can_switch_to(
    tmp_path: Path, browser: Any
) -> None:
    ports = [free_port(), free_port()]
    view = free_port()
    replays = [_replay(port) for port in ports]
    sources = [f"zmq+tcp://127.0.0.1:{port}" for port in ports]
    with (tmp_path / "run.log").open("w") as log:
        run = subprocess.Popen(
            [*RTDECODE, "run", "--source", sources[0], "--source", sources[1],
             "--view", f"127.0.0.1:{view}", "--view-linger", "0", "--quiet"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_answers(f"http://127.0.0.1:{view}/", run)
        page, errors = _open(browser, f"http://127.0.0.1:{view}/")
        tabs = page.locator(".bk-tab")
        page.wait_for_function(
            f"() => ({_frames_shown(0)})() > 0 && ({_frames_shown(1)})() > 0", timeout=180_000
        )
        # one tab per source, named by its address (once the stream has said it)
        names = json.dumps(sources)
        page.wait_for_function(
            "() => JSON.stringify(Bokeh.documents[0].get_model_by_name('streams').tabs"
            f".map(t => t.title)) === JSON.stringify({names})",
            timeout=30_000,
        )
        assert tabs.all_inner_texts() == sources
        assert "bk-active" in (tabs.nth(0).get_attribute("class") or "")
        first, second = (f"live — {source}" for source in sources)
        page.wait_for_function(f"() => ({SHOWN})({json.dumps(first)})", timeout=120_000)
        assert not _shown(page, second)
        tabs.nth(1).click()
        page.wait_for_function(f"() => ({SHOWN})({json.dumps(second)})", timeout=10_000)
        assert not _shown(page, first)
        # the second tab's own counter advances while it is shown
        shown = page.evaluate(_frames_shown(1))
        page.wait_for_function(f"() => ({_frames_shown(1)})() > {shown}", timeout=10_000)
        assert errors == []
        page.close()
    finally:
        for process in (run, *replays):
            process.terminate()
        for process in (run, *replays):
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_viewer_on_the_decoders_feed_shows_the_activity_raster_and_manifold(
    tmp_path: Path, browser: Any
) -> None:
    frames, feed, page_port = free_port(), free_port(), free_port()
    replay = _replay(frames)
    address = f"zmq+tcp://127.0.0.1:{feed}"
    with (tmp_path / "run.log").open("w") as log:
        run = subprocess.Popen(
            [*RTDECODE, "run", "--source", f"zmq+tcp://127.0.0.1:{frames}",
             "--view-feed", address, "--quiet"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    viewer = subprocess.Popen(
        [*RTDECODE, "view", "--connect", address, "--bind", f"127.0.0.1:{page_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_answers(f"http://127.0.0.1:{page_port}/", viewer)
        assert run.poll() is None, (tmp_path / "run.log").read_text()
        page, errors = _open(browser, f"http://127.0.0.1:{page_port}/")
        # a decoder's outputs alone carry no activity; its feed carries all of it
        page.wait_for_function(
            """() => { const d = Bokeh.documents[0];
            const r = d.get_model_by_name('raster-0'), m = d.get_model_by_name('manifold-0');
            return r && r.data.image.length === 1 && m && m.data.pc1.length > 10 }""",
            timeout=180_000,
        )
        rows = page.evaluate("() => Bokeh.documents[0].get_model_by_name('raster-0').data.dh[0]")
        assert rows > 50, f"the raster shows {rows} neurons"
        shown = page.evaluate(FRAMES_SHOWN)
        page.wait_for_function(f"() => ({FRAMES_SHOWN})() > {shown}", timeout=10_000)
        assert errors == []
        page.close()
    finally:
        for process in (viewer, run, replay):
            process.terminate()
        for process in (viewer, run, replay):
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
