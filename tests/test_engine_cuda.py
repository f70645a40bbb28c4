"""The CUDA-graph engine gives the torch CPU engine's probabilities (run on a GPU machine)."""

from __future__ import annotations

import numpy as np
import pytest

from rtdecode.data import Recording
from rtdecode.engines import load_engine
from rtdecode.errors import ConfigError
from rtdecode.preprocess import preprocess_traces

torch = pytest.importorskip("torch")
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")


def _windows(recording: Recording, window: int, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    features, valid = preprocess_traces(recording.traces, recording.timestamps)
    ends = np.linspace(window, recording.n_frames, count).astype(int)
    return [(features[e - window : e], valid[e - window : e]) for e in ends]


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("keep", [130, 77])
def test_cuda_graph_matches_torch_cpu(bundled: Recording, keep: int) -> None:
    recording = Recording(
        bundled.id, bundled.traces[:, :keep], bundled.timestamps, bundled.labels[:keep]
    )
    cpu, gpu = load_engine(engine="torch"), load_engine(engine="cuda")
    for engine in (cpu, gpu):
        engine.prepare(keep, recording.labels, recording.frame_interval)
    for window, valid in _windows(recording, cpu.window, 12):
        expected = cpu.infer(window, valid)
        got = gpu.infer(window, valid)
        np.testing.assert_allclose(got, expected, atol=1e-4)
        assert abs(float(got.sum()) - 1.0) < 1e-5


@pytest.mark.gpu
@needs_gpu
def test_streams_on_one_loaded_network_match_torch_cpu(bundled: Recording) -> None:
    # Two streams on one GPU network: 130 labelled neurons and 77 unlabelled ones at 0.3 s per
    # frame, each with its own captured graph, called in turn and as one batch.
    small = Recording(
        bundled.id, bundled.traces[:, :77], bundled.timestamps / 2, bundled.labels[:77]
    )
    specs = ((bundled, bundled.labels), (small, None))
    cpu, gpu = load_engine(engine="torch"), load_engine(engine="cuda")
    streams = [gpu, gpu.for_stream()]
    assert streams[1].network is gpu.network  # type: ignore[attr-defined]
    windows = [_windows(recording, cpu.window, 6) for recording, _ in specs]
    expected = []
    for (recording, labels), engine, own in zip(specs, streams, windows, strict=True):
        cpu.prepare(recording.n_neurons, labels, recording.frame_interval)
        expected.append([cpu.infer(window, valid) for window, valid in own])
        engine.prepare(recording.n_neurons, labels, recording.frame_interval)
    for i in range(6):
        jobs = [(engine, *windows[s][i]) for s, engine in enumerate(streams)]
        for s, (engine, window, valid) in enumerate(jobs):
            np.testing.assert_allclose(engine.infer(window, valid), expected[s][i], atol=1e-4)
        for s, got in enumerate(gpu.infer_batch(jobs)):
            np.testing.assert_allclose(got, expected[s][i], atol=1e-4)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without GPU")
def test_cuda_engine_without_gpu_says_what_to_use() -> None:
    with pytest.raises(ConfigError, match=r"needs an NVIDIA GPU.*--engine torch or --engine onnx"):
        load_engine(engine="cuda")
