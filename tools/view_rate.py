"""How often the live page updates, and whether it stays responsive, at a given frame rate.

Starts ``rtdecode replay --loop`` at ``--fps`` frames per second (the bundled recording) and
``rtdecode run --view``, opens the page in headless Chromium, and for ``--seconds`` counts the
page's document updates per second (BokehJS change events, bucketed in 20 ms) and times a
round trip into the page's JavaScript every 100 ms (how long a click would wait).

    python tools/view_rate.py --fps 10
    python tools/view_rate.py --fps 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from _view_rig import view_rig

FRAME_INTERVAL_S = 0.6  # the bundled recording


COUNT = """() => { window.__ticks = new Set();
  Bokeh.documents[0].on_change(() => window.__ticks.add(Math.floor(performance.now() / 20))) }"""


def main() -> None:
    """Run, measure, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with view_rig(args.fps * FRAME_INTERVAL_S, args.chromium, timeouts_s=(180, 120)) as rig:
        page = rig.page
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('trace-0').data.t.length > 20",
            timeout=180_000,
        )
        page.evaluate(COUNT)
        start = time.monotonic()
        round_trips = []
        while time.monotonic() - start < args.seconds:
            t0 = time.perf_counter()
            page.evaluate("() => 1")
            round_trips.append((time.perf_counter() - t0) * 1e3)
            page.wait_for_timeout(100)
        elapsed = time.monotonic() - start
        ticks = page.evaluate("() => window.__ticks.size")
        frames_shown = page.evaluate(
            "() => Bokeh.documents[0].get_model_by_name('counters-0').text"
        )
    print(json.dumps({
        "fps": args.fps,
        "seconds": round(elapsed, 1),
        "page_updates_per_s": round(ticks / elapsed, 1),
        "round_trip_ms": {"p50": round(statistics.median(round_trips), 1),
                          "max": round(max(round_trips), 1)},
        "counters": frames_shown,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
