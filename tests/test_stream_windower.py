"""The ring-buffer windower: exact windows across wrap-around, the gap/NaN/restart policy."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from rtdecode.live import Windower
from rtdecode.preprocess import PreprocessConfig, Preprocessor, preprocess_traces

W, N = 5, 4


class IndexPreprocessor(Preprocessor):
    """Writes the raw value and the time into the two channels, so rows are identifiable."""

    def update(self, frame: np.ndarray, t: float, out: np.ndarray, valid: np.ndarray) -> int:
        out[:, 0] = frame
        out[:, 1] = t
        valid[:] = np.isfinite(frame)
        return int((~valid).sum())


def sample_index_traces(frames: int, n: int = N) -> np.ndarray:
    """Value = frame * 1000 + neuron: every sample says where it came from."""
    return (np.arange(frames)[:, None] * 1000 + np.arange(n)[None, :]).astype(np.float32)


def test_the_window_is_always_the_last_w_frames_oldest_first() -> None:
    traces = sample_index_traces(3 * W + 2)
    windower = Windower(W, IndexPreprocessor(N))
    for k, frame in enumerate(traces):
        windower.push(frame, seq=k, t=float(k))
        assert windower.filled == (k + 1 >= W)
        if windower.filled:
            window, valid = windower.window_view()
            np.testing.assert_array_equal(window[:, :, 0], traces[k - W + 1 : k + 1])
            np.testing.assert_array_equal(window[:, 0, 1], np.arange(k - W + 1, k + 1))
            assert valid.all()


def test_streaming_windows_equal_batch_preprocessing() -> None:
    rng = np.random.default_rng(3)
    traces = sample_index_traces(40) + rng.normal(0, 50, (40, N)).astype(np.float32)
    traces[7, 2] = np.nan
    traces[20, :] = np.inf
    times = np.arange(40) * 0.6
    config = PreprocessConfig(tau_s=5.0)
    features, valid = preprocess_traces(traces, times, config)
    windower = Windower(W, Preprocessor(N, config))
    for k in range(40):
        windower.push(traces[k], seq=100 + k, t=float(times[k]))
        if k + 1 >= W:
            window, window_valid = windower.window_view()
            np.testing.assert_array_equal(window, features[k - W + 1 : k + 1])
            np.testing.assert_array_equal(window_valid, valid[k - W + 1 : k + 1])
    assert windower.nan_values == 1 + N and windower.gaps == 0


@pytest.mark.parametrize("lost", [1, 3, W + 4])
def test_a_seq_gap_is_carried_forward_and_masked_like_nan_frames(lost: int) -> None:
    frames = 30
    traces = sample_index_traces(frames) * np.float32(0.01)
    times = np.arange(frames) * 0.5
    missing = list(range(10, 10 + lost))
    expected_input = traces.copy()
    expected_input[missing] = np.nan
    features, valid = preprocess_traces(expected_input, times)
    windower = Windower(W, Preprocessor(N))
    for k in range(frames):
        if k not in missing:
            windower.push(traces[k], seq=k, t=float(times[k]))
    window, window_valid = windower.window_view()
    np.testing.assert_array_equal(window, features[-W:])
    np.testing.assert_array_equal(window_valid, valid[-W:])
    after = 10 + lost
    windower2 = Windower(W, Preprocessor(N))
    for k in range(after + 1):
        if k not in missing:
            windower2.push(traces[k], seq=k, t=float(times[k]))
    _, valid_after_gap = windower2.window_view()
    np.testing.assert_array_equal(valid_after_gap, valid[after - W + 1 : after + 1])
    assert not valid_after_gap[:-1].all() and valid_after_gap[-1].all()
    assert windower.missing == lost and windower.gaps == 1
    assert windower.nan_values == 0, "filler frames are counted as missing, not as NaN data"


def test_seq_going_back_means_a_restarted_producer_and_resets() -> None:
    traces = sample_index_traces(20)
    windower = Windower(W, Preprocessor(N))
    for k in range(12):
        windower.push(traces[k], seq=k, t=float(k))
    windower.push(traces[12], seq=0, t=100.0)
    assert windower.restarts == 1 and not windower.filled
    for k in range(13, 13 + W - 1):
        windower.push(traces[k], seq=k - 12, t=100.0 + k - 12)
    assert windower.filled
    features, _ = preprocess_traces(traces[12 : 12 + W], 100.0 + np.arange(W))
    np.testing.assert_array_equal(windower.window_view()[0], features)


def test_pushing_frames_allocates_nothing_that_stays() -> None:
    n = 150
    windower = Windower(16, Preprocessor(n))
    frame = np.random.default_rng(0).normal(size=n).astype(np.float32)
    for k in range(100):  # warm-up: JIT compilation, caches
        windower.push(frame, seq=k, t=k * 0.1)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for k in range(100, 5100):
        windower.push(frame, seq=k, t=k * 0.1)
        windower.window_view()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 5000, f"{grown} bytes kept after 5000 frames"


def test_interval_estimate_comes_from_frame_times() -> None:
    windower = Windower(W, Preprocessor(N))
    assert windower.interval_estimate() is None
    for k in range(4):
        windower.push(np.ones(N, np.float32), seq=k, t=2.0 + 0.6 * k)
    assert windower.interval_estimate() == pytest.approx(0.6)
