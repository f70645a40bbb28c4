"""The Numba z-score kernel agrees with its NumPy reference; the Preprocessor is causal."""

from __future__ import annotations

import numpy as np
import pytest

from rtdecode.data import Recording
from rtdecode.kernels.normalize import N_FEATURES, zscore_step, zscore_step_reference
from rtdecode.preprocess import PreprocessConfig, Preprocessor, preprocess_traces


def _run(kernel, frames: np.ndarray, times: np.ndarray, tau: float = 5.0):  # type: ignore[no-untyped-def]
    n = frames.shape[1]
    mean, var = np.zeros(n), np.zeros(n)
    count, last = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.float32)
    out = np.zeros((len(frames), n, N_FEATURES), dtype=np.float32)
    valid = np.zeros((len(frames), n), dtype=bool)
    bad = 0
    prev = None
    for i, (frame, t) in enumerate(zip(frames, times, strict=True)):
        dt = 0.0 if prev is None else t - prev
        prev = t
        bad += kernel(frame, dt, tau, 1e-6, mean, var, count, last, out[i], valid[i])
    return out, valid, bad


def test_kernel_matches_reference_with_nan_and_inf() -> None:
    rng = np.random.default_rng(1)
    frames = (rng.normal(size=(300, 17)) * 3 + 10).astype(np.float32)
    frames[rng.random(frames.shape) < 0.05] = np.nan
    frames[5, 3] = np.inf
    frames[:40, 0] = np.nan  # a neuron that starts missing
    times = np.cumsum(rng.uniform(0.3, 0.8, size=300))
    fast = _run(zscore_step, frames, times)
    slow = _run(zscore_step_reference, frames, times)
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(fast[1], slow[1])
    assert fast[2] == slow[2] == int((~np.isfinite(frames)).sum())


def test_missing_values_carry_the_last_z_forward() -> None:
    frames = np.array([[1.0], [2.0], [4.0], [np.nan], [np.nan], [3.0]], dtype=np.float32)
    out, valid, _ = _run(zscore_step, frames, np.arange(6.0))
    assert valid[:, 0].tolist() == [True, True, True, False, False, True]
    assert out[3, 0, 0] == out[4, 0, 0] == out[2, 0, 0]
    assert out[3, 0, 1] == out[4, 0, 1] == 0.0


def test_zscore_converges_to_unit_scale() -> None:
    rng = np.random.default_rng(2)
    frames = (rng.normal(size=(4000, 3)) * [1.0, 50.0, 0.01] + [0.0, 1000.0, 5.0]).astype(
        np.float32
    )
    out, _, _ = _run(zscore_step, frames, np.arange(4000) * 0.5, tau=60.0)
    z = out[1000:, :, 0]
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=0.15)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=0.15)


def test_streaming_equals_batch_and_is_causal() -> None:
    rng = np.random.default_rng(3)
    traces = rng.normal(size=(100, 6)).astype(np.float32)
    times = np.arange(100) * 0.6
    batch, _ = preprocess_traces(traces, times)
    pre = Preprocessor(6)
    out = np.zeros((6, pre.n_features), dtype=np.float32)
    valid = np.zeros(6, dtype=bool)
    for i in range(100):
        pre.update(traces[i], times[i], out, valid)
        np.testing.assert_array_equal(out, batch[i])
    changed = traces.copy()
    changed[60:] += 100.0  # the future must not change the past
    later, _ = preprocess_traces(changed, times)
    np.testing.assert_array_equal(later[:60], batch[:60])


def test_reset_forgets_history() -> None:
    rec = Recording(
        "x", np.random.default_rng(4).normal(size=(30, 4)), np.arange(30.0), (None,) * 4
    )
    first, _ = preprocess_traces(rec.traces[10:], rec.timestamps[10:])
    pre = Preprocessor(4, PreprocessConfig())
    out = np.zeros((4, pre.n_features), dtype=np.float32)
    valid = np.zeros(4, dtype=bool)
    for i in range(10):
        pre.update(rec.traces[i], rec.timestamps[i], out, valid)
    pre.reset()
    for i in range(10, 30):
        pre.update(rec.traces[i], rec.timestamps[i], out, valid)
        np.testing.assert_array_equal(out, first[i - 10])


def test_preprocessor_rejects_empty_stream() -> None:
    from rtdecode.errors import ConfigError

    with pytest.raises(ConfigError, match="n_neurons must be >= 1"):
        Preprocessor(0)
