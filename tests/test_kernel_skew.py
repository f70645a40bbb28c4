"""The running-skewness channel: Numba kernel against its NumPy reference, NaN included."""

from __future__ import annotations

import numpy as np

from rtdecode.kernels.normalize import (
    N_FEATURES,
    skew_step,
    skew_step_reference,
    zscore_step,
)
from rtdecode.preprocess import Preprocessor, preprocess_traces


def _run(kernel, frames: np.ndarray, times: np.ndarray):  # type: ignore[no-untyped-def]
    n = frames.shape[1]
    mean, var, skew = np.zeros(n), np.zeros(n), np.zeros(n)
    count, last = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.float32)
    out = np.zeros((len(frames), n, N_FEATURES), dtype=np.float32)
    valid = np.zeros((len(frames), n), dtype=bool)
    prev = None
    for i, (frame, t) in enumerate(zip(frames, times, strict=True)):
        dt = 0.0 if prev is None else t - prev
        prev = t
        zscore_step(frame, dt, 20.0, 1e-6, mean, var, count, last, out[i], valid[i])
        kernel(dt, 40.0, count, skew, out[i], valid[i])
    return out, valid


def test_skew_kernel_matches_reference_with_nan_and_inf() -> None:
    rng = np.random.default_rng(4)
    frames = rng.exponential(size=(400, 13)).astype(np.float32)
    frames[rng.random(frames.shape) < 0.05] = np.nan
    frames[7, 2] = np.inf
    frames[:50, 0] = np.nan
    times = np.cumsum(rng.uniform(0.3, 0.8, size=400))
    fast, valid_fast = _run(skew_step, frames, times)
    slow, valid_slow = _run(skew_step_reference, frames, times)
    np.testing.assert_array_equal(valid_fast, valid_slow)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)
    assert np.all(fast[:50, 0, 2] == 0.0)  # never valid yet: no skewness


def test_bursting_neurons_skew_positive_and_dipping_neurons_negative() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(1500) * 0.6
    bursts = (rng.random(1500) < 0.05).astype(np.float32)
    bursts = np.convolve(bursts, np.ones(8), mode="same")
    traces = np.stack((1.0 + bursts, 5.0 - bursts), axis=1) + rng.normal(0, 0.05, (1500, 2))
    features, _ = preprocess_traces(traces.astype(np.float32), t)
    late = features[500:, :, 2].mean(axis=0)
    assert late[0] > 0.5 and late[1] < -0.5


def test_preprocessor_reset_forgets_the_skewness() -> None:
    pre = Preprocessor(2)
    out = np.zeros((2, N_FEATURES), np.float32)
    valid = np.zeros(2, bool)
    for i, v in enumerate([1.0, 1.0, 9.0, 1.0, 1.0]):
        pre.update(np.array([v, 2.0], np.float32), i * 0.5, out, valid)
    assert out[0, 2] != 0.0
    pre.reset()
    pre.update(np.array([1.0, 2.0], np.float32), 10.0, out, valid)
    assert out[0, 2] == 0.0
