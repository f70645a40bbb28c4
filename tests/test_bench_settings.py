"""Benchmark settings: phase lengths and the messages bad values give."""

from __future__ import annotations

import pytest

from rtdecode.bench import STREAM_PHASES, BenchSettings
from rtdecode.errors import ConfigError


def test_phase_lengths_share_seconds_with_a_floor_and_a_capped_hop() -> None:
    # two engines: 10 and 1000 Hz for the hop and each engine, and two ceiling searches
    settings = BenchSettings(seconds=600.0, min_frames=100)
    assert settings.phase_s() == 75.0
    assert settings.frames_at(10.0) == 750
    assert settings.hop_frames_at(1000.0) == 30_000  # 30 s of hop, not 75 s
    short = BenchSettings(seconds=60.0, min_frames=100)  # 10 Hz needs 10 s for its 100 frames
    assert short.frames_at(10.0) == 100 and short.frames_at(1000.0) == 6000


def _streamed_s(settings: BenchSettings) -> float:
    """Seconds the runner streams for ``settings``, phase by phase as it runs them."""
    total = 0.0
    for _ in settings.neurons:
        for k in settings.streams:
            phases = len(settings.stream_phases) if k > 1 else 1
            for rate in settings.rates_hz:
                total += phases * settings.hop_frames_at(rate) / rate
                total += phases * len(settings.engines) * settings.frames_at(rate) / rate
            if k == 1:
                steps = settings.ceiling_steps()
                total += len(settings.engines) * sum(frames / rate for rate, frames in steps)
    return total


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"seconds": 3.0, "min_frames": 10, "engines": ("torch",)},
        {"seconds": 30.0, "engines": ("numba", "torch", "onnx", "cuda"), "rates_hz": (1000.0,)},
        {"seconds": 45.0, "neurons": (150, 302), "streams": (1, 3), "rates_hz": (50.0, 500.0)},
        {"seconds": 12.0, "streams": (2,), "stream_phases": STREAM_PHASES, "rates_hz": (100.0,)},
        {"seconds": 600.0, "rates_hz": (10.0,), "min_frames": 1},
    ],
)
def test_seconds_bounds_the_whole_run_ceiling_search_included(kwargs: dict) -> None:
    settings = BenchSettings(**kwargs)
    assert _streamed_s(settings) <= settings.seconds + 1e-6
    if settings.ceiling_rates_hz and 1 in settings.streams:
        steps = settings.ceiling_steps()
        assert steps and steps[-1][0] == settings.ceiling_rates_hz[-1]  # searched to the top


def test_a_short_budget_drops_the_lowest_ceiling_steps_first() -> None:
    full = BenchSettings(seconds=600.0).ceiling_steps()
    assert [rate for rate, _ in full] == list(BenchSettings().ceiling_rates_hz)
    short = BenchSettings(seconds=60.0).ceiling_steps()
    assert [rate for rate, _ in short] == [100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0]


def test_a_budget_the_min_frames_do_not_fit_is_refused_with_the_least_that_fits() -> None:
    with pytest.raises(ConfigError, match=r"--seconds 3 is too short.*at least 30\.3 s"):
        BenchSettings(seconds=3.0)  # 100 frames at 10 Hz, for the hop and two engines


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"engines": ()}, "--engine"),
        ({"neurons": (0,)}, "--neurons"),
        ({"rates_hz": (0.0,)}, "--rate"),
        ({"deadline_ms": 0.0}, "--deadline-ms"),
        ({"ceiling_rates_hz": (100.0, 50.0)}, "ceiling rates must increase"),
        ({"decoder_env": (("", "1"),)}, "NAME=VALUE"),
        ({"threads": 0}, "--threads"),
        ({"keep_warm_ms": 0.0}, "--keep-warm-ms"),
        ({"cpu": -1}, "--cpu"),
        ({"streams": (0,)}, "--streams"),
        ({"streams": ()}, "--streams"),
        ({"stream_phases": ("random",)}, "--stream-phase"),
    ],
)
def test_bad_settings_name_the_option(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BenchSettings(**kwargs)
