"""The screenshot of the live view in docs/: a real decoder on the bundled recording, in Chromium.

Starts ``rtdecode replay --loop --behavior`` (10 frames/s, with the tracked behaviour) and ``rtdecode run --view --trigger --arm``
(trigger events on a ZeroMQ output), opens the page in headless Chromium (Playwright, the
system's /usr/bin/chromium) once ``--wait`` seconds of decoding have scrolled in, and saves a
full-page PNG.

    python tools/view_screenshot.py --out docs/view.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _view_rig import free_port, view_rig


def main() -> None:
    """Run the decoder, wait, take the picture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/view.png"))
    parser.add_argument("--wait", type=float, default=60.0, help="seconds of decoding first")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    run_args = ["--abstain", "0.3,0.7", "--trigger", "--arm", "--trigger-out",
                f"zmq+tcp://127.0.0.1:{free_port()}", "--refractory-s", "5",
                "--max-pulses", "40", "--stale-ms", "2000"]  # fmt: skip
    viewport = {"width": 1400, "height": 1000}
    with view_rig(6, args.chromium, ["--behavior"], run_args, (180, 120), viewport=viewport) as rig:
        rig.page.wait_for_timeout(args.wait * 1e3)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        rig.page.screenshot(path=str(args.out), full_page=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
