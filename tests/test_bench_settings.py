"""Benchmark settings: phase lengths and the messages bad values give."""

from __future__ import annotations

import pytest

from rtdecode.bench import BenchSettings
from rtdecode.errors import ConfigError


def test_phase_lengths_follow_seconds_with_a_floor_and_a_capped_hop() -> None:
    settings = BenchSettings(seconds=600.0, min_frames=100)
    assert settings.frames_at(10.0) == 6000
    assert settings.frames_at(0.1) == 100  # never fewer than min_frames
    assert settings.hop_frames_at(1000.0) == 30_000  # 30 s of hop, not 600 s
    assert BenchSettings(seconds=3.0).hop_frames_at(1000.0) == 3000


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
