"""Trace ``rtdecode bench --flood``: what the decode loop was doing when each slow calm frame
was sent.

Runs the flood benchmark in this process with the decode loop's steps timed (each stream's
take, decode and bookkeeping, and the due-frame wait), then files every calm frame sent while
the flood was on by what the loop was doing 0.3 ms after its send, and by how late its
prediction was. A frame sent while the loop waited for it (``wait``) and still late was late
before the decoder could read it: in its sender or on the way. Usage::

    python tools/flood_trace.py --flood-rate 0 --seconds 20 [--slowest 5]

Diagnostic only: it wraps the live path's methods, which costs a little time per step.
"""

from __future__ import annotations

import argparse
import bisect
import functools
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from rtdecode.bench import _flood
from rtdecode.live import _processor, _runner

Event = tuple[str, int, int, int]  # what, stream (0-based; -1: the loop), start ns, end ns
BANDS = ((0.0, "<2 ms"), (2.0, "2-3 ms"), (3.0, "3-5 ms"), (5.0, ">5 ms"))


def _timed(cls: type, name: str, what: str, events: list[Event], streams: dict[int, int]) -> None:
    """Wrap ``cls.name`` so that each call appends ``(what, stream, start, end)``."""
    original: Callable[..., Any] = getattr(cls, name)

    @functools.wraps(original)
    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter_ns()
        result = original(self, *args, **kwargs)
        events.append((what, streams.get(id(self), -1), start, time.perf_counter_ns()))
        return result

    setattr(cls, name, step)


def trace(settings: _flood.FloodSettings) -> tuple[dict[str, Any], list[Event], dict[str, Any]]:
    """Run the flood benchmark with the loop's steps timed; its results, the steps, and the
    calm frames' send and publication times."""
    events: list[Event] = []
    streams: dict[int, int] = {}
    original_open = _processor.StreamProcessor.open

    def numbered_open(self: Any) -> Any:
        streams[id(self)] = len(streams)
        return original_open(self)

    _processor.StreamProcessor.open = numbered_open  # type: ignore[method-assign]
    for name, what in (("take", "take"), ("decode_pending", "decode")):
        _timed(_processor.StreamProcessor, name, what, events, streams)
    _timed(_runner.Runner, "_wait_for_due", "wait", events, streams)
    tally: dict[str, Any] = {}
    original_tally = _flood._tally

    def keep(settings: Any, sent: Any, sinks: Any, *rest: Any) -> Any:
        tally.update(sent=sent, published=[sink.published for sink in sinks], flooded=rest[2][0])
        return original_tally(settings, sent, sinks, *rest)

    _flood._tally = keep  # type: ignore[assignment]
    return _flood.run_flood(settings), sorted(events, key=lambda e: e[2]), tally


def classify(
    events: list[Event], tally: dict[str, Any], guard_ns: int
) -> tuple[Counter[tuple[str, str]], list]:
    """Count the calm frames sent during the flood (those the bench counts: ``guard_ns`` after
    it was switched on or later) by the loop's step at their send + 0.3 ms and by latency
    band; and list them, slowest first."""
    starts = [e[2] for e in events]
    counts: Counter[tuple[str, str]] = Counter()
    frames = []
    for stream, stamps in enumerate(tally["sent"]):
        for seq, sent in stamps.items():
            published = tally["published"][stream].get(seq)
            flooded = any(a + guard_ns <= sent < b for a, b in tally["flooded"])
            if published is None or not flooded:
                continue
            at, step = sent + 300_000, "idle"
            for what, index, start, end in reversed(
                events[max(0, bisect.bisect(starts, at) - 40) : bisect.bisect(starts, at)]
            ):
                if start <= at < end:
                    step = what if index < 0 else f"{what} stream {index + 1}"
                    break
            late_ms = (published - sent) / 1e6
            band = [name for floor, name in BANDS if late_ms >= floor][-1]
            counts[step, band] += 1
            frames.append((late_ms, stream + 1, seq, step))
    return counts, sorted(frames, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood-rate", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--slowest", type=int, default=5)
    args = parser.parse_args()
    settings = _flood.FloodSettings(
        flood_rate_hz=args.flood_rate, seconds=args.seconds, cpu=args.cpu
    )
    results, events, tally = trace(settings)
    print(_flood.format_flood(results))
    counts, frames = classify(events, tally, int(settings.guard_s * 1e9))
    print("\ncalm frames sent while the flood was on, by the loop's step at send + 0.3 ms:")
    print(f"{'step':<20}" + "".join(f"{name:>9}" for _, name in BANDS))
    for step in sorted({step for step, _ in counts}):
        print(f"{step:<20}" + "".join(f"{counts[step, name]:>9}" for _, name in BANDS))
    print(f"\nslowest {args.slowest}: latency ms, stream, seq, step")
    for late_ms, stream, seq, step in frames[: args.slowest]:
        print(f"  {late_ms:6.2f}  {stream}  {seq}  {step}")


if __name__ == "__main__":
    main()
