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
import time
from pathlib import Path

import psutil
from _view_rig import view_rig


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
    samples = []
    with view_rig(args.speed, args.chromium) as rig:
        decoder = psutil.Process(rig.run.pid)
        start = time.monotonic()
        while time.monotonic() - start < args.minutes * 60:
            children = decoder.children()
            frames_shown = rig.page.evaluate(
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
