"""What one benchmark run measures: engines, stream shapes, rates, durations, thresholds."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from rtdecode.errors import ConfigError

__all__ = ["DEFAULT_ENGINES", "STREAM_PHASES", "BenchSettings"]

DEFAULT_ENGINES: tuple[str, ...] = ("torch", "onnx")
"""What ``--engine all`` means when the engines package does not list its engines."""
STREAM_PHASES: tuple[str, ...] = ("locked", "staggered")
"""How the frames of several streams line up in time: all at once, or spread over the period."""


@dataclass(frozen=True)
class BenchSettings:
    """Settings of one ``rtdecode bench`` run.

    Parameters
    ----------
    engines
        Engine names given to ``rtdecode run --engine``.
    neurons
        Neurons per frame; each count gets its own bare-hop measurement and decoder start.
    rates_hz
        Frame rates measured for every engine and neuron count, in order.
    seconds
        Seconds streamed in the whole run, split by :meth:`phase_s` into equal shares: one
        per measured phase (every rate, and phase with several streams, of the bare hop and
        of every engine, for every neuron count and stream count) and one per ceiling search
        (each single-stream engine measurement) ...
    min_frames
        ... but a phase never streams fewer frames than this (so a 10 Hz phase still gives a
        distribution); such phases take their floor and the others share what is left.
    deadline_ms
        A prediction arriving later than this after its frame was sent counts as a deadline miss.
    busy_poll
        Pass ``--busy-poll`` to the decoder (it spins instead of sleeping between frames).
    keep_warm_ms
        Pass ``--keep-warm-ms MS`` (a discarded forward every MS while idle); ``None``: not passed.
    cpu
        Pass ``--cpu N`` (pin the decoder to core N); ``None``: not passed.
    streams
        Streams decoded by one decoder, one measurement each: 1 is one ``--source``; K > 1
        starts the decoder with K sources fed by K producer sockets, and reports every stream.
    stream_phases
        With K > 1 streams, each rate is measured once per phase: ``"locked"`` sends the K
        frames of a period together (the decoder gets K windows at once: the worst case),
        ``"staggered"`` spreads them evenly over the period (the best case).
    decoder_env
        ``(name, value)`` environment variables set for the decoder process only, for example
        ``("OMP_NUM_THREADS", "1")``.
    window
        Pass ``--window W`` to the decoder; ``None`` keeps the model's own window.
    threads
        Pass ``--threads N`` (the engine's intra-op threads); ``None`` keeps the decoder's default.
    model
        Pass ``--model PATH`` (a lab's own model file); ``None`` uses the shipped model.
    ceiling_rates_hz
        Rates stepped through, lowest first, to find the throughput ceiling (empty: skip it).
    ceiling_step_s
        Longest ceiling step in seconds (each streams at least ``min_frames`` frames; see
        :meth:`ceiling_steps` for how the search fits its share of ``seconds``).
    warmup_rate_hz
        Rate of the unmeasured warm-up stream while the decoder starts and fills its window.
    warmup_predictions
        Predictions that must arrive before measuring starts (numba JIT, first inferences).
    startup_timeout_s
        Longest wait for the decoder's first predictions.
    grace_s
        Wait after the last frame of a phase for its predictions to arrive.
    hop_max_s
        Longest bare-hop measurement per rate (a 10 minute soak needs no 10 minute hop).
    curve
        Encrypt and authenticate every hop with ZeroMQ CURVE keys (what a bind beyond
        loopback needs), to measure what that costs.
    view
        Measure each one-stream decoder with ``--view`` and one headless Chromium on the
        page, twice, then alone again (``engine`` ``NAME+view``, ``NAME+view#2``,
        ``NAME#2``): the live view's cost, side by side in one run, in both orders.
    """

    engines: tuple[str, ...] = DEFAULT_ENGINES
    neurons: tuple[int, ...] = (150,)
    rates_hz: tuple[float, ...] = (10.0, 1000.0)
    seconds: float = 60.0
    min_frames: int = 100
    deadline_ms: float = 10.0
    busy_poll: bool = False
    keep_warm_ms: float | None = None
    cpu: int | None = None
    streams: tuple[int, ...] = (1,)
    stream_phases: tuple[str, ...] = ("locked",)
    decoder_env: tuple[tuple[str, str], ...] = ()
    window: int | None = None
    threads: int | None = None
    model: str | None = None
    ceiling_rates_hz: tuple[float, ...] = (20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)
    ceiling_step_s: float = 1.0
    warmup_rate_hz: float = 100.0
    warmup_predictions: int = 30
    startup_timeout_s: float = 120.0
    grace_s: float = 0.5
    hop_max_s: float = 30.0
    curve: bool = False
    view: bool = False

    def __post_init__(self) -> None:
        if not self.engines:
            raise ConfigError("bench needs at least one engine; pass --engine NAME or --engine all")
        if not self.neurons or min(self.neurons) < 1:
            raise ConfigError(f"--neurons must be positive integers, got {self.neurons}")
        rates = (*self.rates_hz, *self.ceiling_rates_hz, self.warmup_rate_hz)
        if not self.rates_hz or min(rates) <= 0:
            raise ConfigError(f"--rate values must be > 0 Hz, got {self.rates_hz}")
        if list(self.ceiling_rates_hz) != sorted(self.ceiling_rates_hz):
            raise ConfigError(f"ceiling rates must increase, got {self.ceiling_rates_hz}")
        if not self.seconds > 0 or not self.ceiling_step_s > 0:
            raise ConfigError(f"--seconds must be > 0, got {self.seconds}")
        if self.min_frames < 1 or self.warmup_predictions < 1:
            raise ConfigError("min_frames and warmup_predictions must be >= 1")
        if not self.deadline_ms > 0:
            raise ConfigError(f"--deadline-ms must be > 0, got {self.deadline_ms}")
        for name, _ in self.decoder_env:
            if not name or "=" in name:
                raise ConfigError(f"--decoder-env needs NAME=VALUE, got name {name!r}")
        if self.window is not None and self.window < 1:
            raise ConfigError(f"--window must be >= 1 frame, got {self.window}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {self.threads}")
        if self.keep_warm_ms is not None and not self.keep_warm_ms > 0:
            raise ConfigError(f"--keep-warm-ms must be > 0 ms, got {self.keep_warm_ms}")
        if self.cpu is not None and self.cpu < 0:
            raise ConfigError(f"--cpu must be a core number >= 0, got {self.cpu}")
        if not self.streams or min(self.streams) < 1:
            raise ConfigError(f"--streams must be positive integers, got {self.streams}")
        unknown = set(self.stream_phases) - set(STREAM_PHASES)
        if not self.stream_phases or unknown:
            raise ConfigError(
                f"--stream-phase must be one of {list(STREAM_PHASES)}, got {list(self.stream_phases)}"
            )
        self.phase_s()  # refuses a budget the --min-frames floors do not fit in

    def _floors(self) -> list[float]:
        """The least seconds of every share of the budget: each measured phase's
        ``min_frames`` at its rate, and nothing for a ceiling search."""
        floors: list[float] = []
        for _ in self.neurons:
            for k in self.streams:
                phases = len(self.stream_phases) if k > 1 else 1
                per_path = [self.min_frames / rate for rate in self.rates_hz] * phases
                arms = 4 if self.view and k == 1 else 1  # the view's cost: ABBA per engine
                floors += per_path * (1 + arms * len(self.engines))  # the bare hop, the engines
                if k == 1 and self.ceiling_rates_hz:
                    floors += [0.0] * len(self.engines)
        return floors

    def phase_s(self) -> float:
        """Seconds of one share of ``seconds``: what every phase without a higher
        ``min_frames`` floor, and every ceiling search, streams at most.

        Raises
        ------
        ConfigError
            When the floors alone exceed ``seconds``, naming the least budget that fits.
        """
        floors = sorted(self._floors())
        if sum(floors) > self.seconds + 1e-9:
            raise ConfigError(
                f"--seconds {self.seconds:g} is too short: --min-frames {self.min_frames} at "
                f"every rate of every engine needs at least {sum(floors):.1f} s; raise "
                "--seconds, or lower --min-frames, or measure fewer rates or engines"
            )
        for m in range(len(floors), 0, -1):  # the m lowest floors lie below the share
            share = (self.seconds - sum(floors[m:])) / m
            if share >= floors[m - 1]:
                return share
        return self.seconds  # not reached: m = 1 always fits once the floors do

    def ceiling_steps(self) -> list[tuple[float, int]]:
        """The ceiling search's ``(rate, frames)`` steps, lowest first: one share split over
        the rates (steps of at most ``ceiling_step_s`` and at least ``min_frames``), and the
        highest rates whose steps together fit in it (the low ones, slow at ``min_frames``,
        are left out first)."""
        left = self.phase_s()
        step_s = min(self.ceiling_step_s, left / max(len(self.ceiling_rates_hz), 1))
        steps: list[tuple[float, int]] = []
        for rate in reversed(self.ceiling_rates_hz):
            frames = max(math.floor(rate * step_s), self.min_frames)
            if frames / rate > left + 1e-9:
                break
            steps.insert(0, (rate, frames))
            left -= frames / rate
        return steps

    def frames_at(self, rate_hz: float) -> int:
        """Frames streamed in the measured phase at ``rate_hz``: its share of ``seconds``."""
        return max(math.floor(rate_hz * self.phase_s() + 1e-9), self.min_frames)

    def hop_frames_at(self, rate_hz: float) -> int:
        """Frames streamed for the bare hop at ``rate_hz``."""
        return min(self.frames_at(rate_hz), max(round(rate_hz * self.hop_max_s), self.min_frames))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy of the settings."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
