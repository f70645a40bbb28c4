"""The Numba baseline tracker agrees with its NumPy reference and tracks the lower envelope."""

from __future__ import annotations

import numpy as np
from stream_support import WindowMeanEngine, decode

from rtdecode.data import Recording, bundled_recording
from rtdecode.kernels.baseline import baseline_step, baseline_step_reference
from rtdecode.live import Windower
from rtdecode.preprocess import BaselineConfig, BaselineTracker, Preprocessor, preprocess_traces
from rtdecode.stream import ReplaySource


def _run(kernel, frames: np.ndarray, times: np.ndarray):  # type: ignore[no-untyped-def]
    n = frames.shape[1]
    baseline, count = np.zeros(n), np.zeros(n, np.int64)
    out = np.zeros(frames.shape, np.float32)
    valid = np.zeros(frames.shape, bool)
    bad, prev = 0, None
    for i, (frame, t) in enumerate(zip(frames, times, strict=True)):
        dt = 0.0 if prev is None else t - prev
        prev = t
        bad += kernel(frame, dt, 30.0, 3.0, 1e-3, baseline, count, out[i], valid[i])
    return out, valid, bad, baseline


def test_kernel_matches_reference_with_nan_and_inf() -> None:
    rng = np.random.default_rng(2)
    frames = (rng.gamma(2.0, 50.0, size=(400, 23)) + 100).astype(np.float32)
    frames[rng.random(frames.shape) < 0.05] = np.nan
    frames[7, 4] = -np.inf
    frames[:50, 1] = np.nan  # a neuron that starts missing
    frames[:, 2] = 0.0  # a dead pixel: the floor keeps it finite
    times = np.cumsum(rng.uniform(0.3, 0.8, size=400))
    fast, slow = _run(baseline_step, frames, times), _run(baseline_step_reference, frames, times)
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-5, atol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(fast[1], slow[1])
    assert fast[2] == slow[2] == int((~np.isfinite(frames)).sum())
    np.testing.assert_array_equal(np.isnan(fast[0]), ~np.isfinite(frames))
    assert np.all(np.isfinite(fast[3]))


def test_baseline_follows_bleaching_but_not_transients() -> None:
    t = np.arange(2000) * 0.5
    bleach = 1000.0 * np.exp(-t / 600.0)
    spikes = np.where((np.arange(2000) % 100) < 5, 400.0, 0.0)
    frames = (bleach + spikes).astype(np.float32)[:, None]
    out, _, _, baseline = _run(baseline_step, frames, t)
    assert abs(baseline[0] - bleach[-1]) / bleach[-1] < 0.05
    quiet = (np.arange(2000) % 100) >= 50
    assert np.all(np.abs(out[1000:, 0][quiet[1000:]]) < 0.05)
    assert np.all(out[1000:, 0][~quiet[1000:] & ((np.arange(2000) % 100) < 5)[1000:]] > 0.3)


def test_raw_fluorescence_mode_decodes_dff_in_the_pipeline() -> None:
    whole = bundled_recording()
    recording = Recording("raw", whole.traces[:60] + 5.0, whole.timestamps[:60], whole.labels)
    engine = WindowMeanEngine(window=8)
    source = ReplaySource(recording, speed=float("inf"))
    summary = decode(source, engine, max_batch=1, raw_fluorescence=True)
    assert summary["predictions"] == 60 - 7
    tracker = BaselineTracker(recording.n_neurons, BaselineConfig())
    dff = np.zeros_like(recording.traces)
    valid = np.zeros(recording.traces.shape, bool)
    for i in range(60):
        tracker.update(recording.traces[i], float(recording.timestamps[i]), dff[i], valid[i])
    features, _ = preprocess_traces(dff, recording.timestamps, engine.preprocess)
    windower = Windower(
        8,
        Preprocessor(recording.n_neurons, engine.preprocess),
        BaselineTracker(recording.n_neurons),
    )
    for i in range(60):
        windower.push(recording.traces[i], i, float(recording.timestamps[i]))
    np.testing.assert_array_equal(windower.window_view()[0], features[-8:])
