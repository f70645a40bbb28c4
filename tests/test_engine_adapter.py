"""The engines' window adapter: the model's time grid interpolated from the stream's frames."""

from __future__ import annotations

import numpy as np
import pytest

from rtdecode.engines._adapter import WindowAdapter
from rtdecode.preprocess._resample import resample_plan


@pytest.mark.parametrize(
    ("window", "stream_interval"),
    [(32, None), (40, 0.6), (48, 0.45), (40, 0.8), (20, 0.6)],  # same rate, faster, slower, short
)
def test_the_model_grid_is_interpolated_between_the_two_nearest_frames(
    window: int, stream_interval: float | None
) -> None:
    model_window, n, f = 32, 9, 3
    lo, hi, weight, inside = resample_plan(window, model_window, 0.6, stream_interval)
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(2 * window, n, f)).astype(np.float32)[::2]  # not contiguous
    valid = rng.random((window, n)) > 0.2
    adapter = WindowAdapter(window, model_window, 0.6, stream_interval, n, f)
    adapter(frames, valid)
    keep, take = (1.0 - weight)[:, None, None], weight[:, None, None]
    np.testing.assert_array_equal(adapter.x, frames[lo] * keep + frames[hi] * take)
    expected_valid = valid[lo] & valid[hi] & inside[:, None]
    np.testing.assert_array_equal(adapter.valid, expected_valid.astype(np.float32))
    if window < model_window:
        assert not adapter.valid[0].any()  # before the oldest frame: masked
