"""The Numba engine gives the torch engine's probabilities on real recordings, allocation-free."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rtdecode.data import Recording, bundled_recording, discover_recordings, load_recording
from rtdecode.engines import Engine, load_engine
from rtdecode.errors import ConfigError, ModelError
from rtdecode.models import build_network, load_model_file, save_model_file
from rtdecode.preprocess import preprocess_traces

TOLERANCE = 1e-5  # on each probability, the bar set for this engine


@pytest.fixture(scope="module")
def engines() -> tuple[Engine, Engine]:
    return load_engine(engine="numba"), load_engine(engine="torch")


def _worst_difference(
    engines: tuple[Engine, Engine],
    features: np.ndarray,
    valid: np.ndarray,
    labels: list[str | None] | None,
    interval: float,
    ends: range | np.ndarray,
) -> float:
    numba_engine, torch_engine = engines
    n = features.shape[1]
    numba_engine.prepare(n, labels, interval)
    torch_engine.prepare(n, labels, interval)
    w = numba_engine.window
    worst = 0.0
    for t in ends:
        a = numba_engine.infer(features[t - w : t], valid[t - w : t])
        b = torch_engine.infer(features[t - w : t], valid[t - w : t])
        assert a.dtype == np.float32 and a.shape == b.shape
        worst = max(worst, float(np.abs(a - b).max()))
    return worst


def _check_recording(engines: tuple[Engine, Engine], recording: Recording) -> None:
    features, valid = preprocess_traces(
        recording.traces, recording.timestamps, engines[1].preprocess
    )
    every_frame = range(engines[0].window, recording.n_frames + 1)
    for labels in (recording.labels, None):
        worst = _worst_difference(
            engines, features, valid, labels, recording.frame_interval, every_frame
        )
        assert worst < TOLERANCE, f"{recording.id} labels={labels is not None}: {worst}"


def test_every_frame_of_the_bundled_recording_matches_torch(engines) -> None:
    _check_recording(engines, bundled_recording())


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 2 minutes at load 1-2 on 2 cores, 17 at load 10 (torch, mostly)
def test_every_frame_of_every_shared_recording_matches_torch(engines, flavell_dir: Path) -> None:
    files = discover_recordings(flavell_dir)
    assert len(files) == 6
    for file in files:
        _check_recording(engines, load_recording(file))


@pytest.mark.parametrize("n_neurons", [1, 2, 17, 151, 302])
def test_any_neuron_count_matches_torch(engines, bundled: Recording, n_neurons: int) -> None:
    features, valid = preprocess_traces(bundled.traces, bundled.timestamps)
    cols = np.arange(n_neurons) % bundled.n_neurons
    labels = [bundled.labels[c] for c in cols]
    f, v = np.ascontiguousarray(features[:, cols]), np.ascontiguousarray(valid[:, cols])
    ends = np.arange(engines[0].window, bundled.n_frames, 97)
    for names in (labels, None):
        # 0.3 s frames: the window is resampled onto the model's grid, oldest points masked.
        for interval in (bundled.frame_interval, 0.3):
            assert _worst_difference(engines, f, v, names, interval, ends) < TOLERANCE


def test_missing_values_in_the_window_match_torch(engines, bundled: Recording) -> None:
    traces = bundled.traces.copy()
    rng = np.random.default_rng(3)
    traces[rng.random(traces.shape) < 0.2] = np.nan  # 20 % dropped samples, carried forward
    features, valid = preprocess_traces(traces, bundled.timestamps)
    assert not valid.all()
    ends = np.arange(engines[0].window, bundled.n_frames, 53)
    worst = _worst_difference(
        engines, features, valid, bundled.labels, bundled.frame_interval, ends
    )
    assert worst < TOLERANCE


def test_a_model_of_another_architecture_is_refused_with_the_fix(tmp_path: Path) -> None:
    model = load_model_file()
    other = replace(model, architecture="deepsets", hyperparameters={"window": 32, "n_features": 3})
    other.state_dict = build_network("deepsets", other.hyperparameters).state_dict()
    path = save_model_file(other, tmp_path / "deepsets.pt")
    with pytest.raises(ConfigError, match="--engine torch"):
        load_engine(path, engine="numba")


def test_infer_needs_prepare_and_the_prepared_shape(bundled: Recording) -> None:
    engine = load_engine(engine="numba")
    w = engine.window
    window = np.zeros((w, 5, engine.n_features), np.float32)
    with pytest.raises(ModelError, match="prepare"):
        engine.infer(window, np.ones((w, 5), bool))
    engine.prepare(6)
    with pytest.raises(ModelError, match="prepare"):
        engine.infer(window, np.ones((w, 5), bool))


_ALLOCATIONS = """
import numpy as np
from numba.core.runtime import rtsys
from rtdecode.engines import load_engine

engine = load_engine(engine="numba")
for n in (3, 302):
    engine.prepare(n, None, 0.6)
    window = np.random.default_rng(0).normal(size=(engine.window, n, 3)).astype(np.float32)
    valid = np.ones((engine.window, n), bool)
    engine.infer(window, valid)
    before = rtsys.get_allocation_stats()
    for _ in range(10):
        engine.infer(window, valid)
    after = rtsys.get_allocation_stats()
    print(n, after.alloc - before.alloc, after.free - before.free)
"""


def test_the_kernel_allocates_nothing_that_grows_with_the_neurons_or_stays() -> None:
    # Numba's dispatcher wraps each array argument in a small MemInfo for the call (at most 9
    # arrays: x, valid, ids, packed weights and workspace with their tables, probs; and 8 for
    # the window adapter's call: window, valid, its plan, x and valid out); beyond those
    # nothing is allocated, whatever the neuron count, and everything is freed.
    env = {**os.environ, "NUMBA_NRT_STATS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _ALLOCATIONS], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    rows = [tuple(int(v) for v in line.split()) for line in out if line]
    assert [r[0] for r in rows] == [3, 302]
    small, large = rows
    assert small[1] == large[1] and small[1] == small[2] and large[1] == large[2]
    assert small[1] <= 10 * (9 + 8)


def test_packed_buffers_unpack_to_the_same_arrays() -> None:
    from rtdecode.kernels.gnn import (
        _weight_views,
        _workspace_views,
        gnn_weights,
        gnn_workspace,
        pack,
    )

    model = load_model_file()
    state = {k: v.numpy() for k, v in model.state_dict.items()}
    weights = gnn_weights(state, rounds=1)
    for arrays, unpack in (
        (weights, _weight_views),
        (gnn_workspace(weights, 7, 32), _workspace_views),
    ):
        rng = np.random.default_rng(1)
        filled = type(arrays)(*(rng.normal(size=a.shape).astype(np.float32) for a in arrays))
        packed = pack(filled)
        for name, original, view in zip(filled._fields, filled, unpack(*packed), strict=True):
            assert view.shape == original.shape, name
            np.testing.assert_array_equal(view, original, err_msg=name)


def test_subnormal_weights_become_zero_and_the_rest_is_kept() -> None:
    # Each product with a subnormal weight costs a microcode assist (~100 cycles); the bundled
    # model has hundreds of them (encode.2, readout.0), so the kernel must not see any.
    from rtdecode.kernels.gnn import gnn_weights

    model = load_model_file()
    state = {k: v.numpy() for k, v in model.state_dict.items()}
    tiny = np.finfo(np.float32).tiny
    subnormal = {k: (v != 0) & (np.abs(v) < tiny) for k, v in state.items()}
    assert sum(int(s.sum()) for s in subnormal.values()) > 0  # else this test checks nothing
    weights = gnn_weights(state, rounds=1)
    for name, array in zip(weights._fields, weights, strict=True):
        assert not np.any((array != 0) & (np.abs(array) < tiny)), name
    kept = np.where(subnormal["encode.2.weight"], 0.0, state["encode.2.weight"]).T
    np.testing.assert_array_equal(weights.enc2, kept)
