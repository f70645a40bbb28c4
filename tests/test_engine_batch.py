"""Several streams on one loaded model: ``for_stream`` engines and ``infer_batch`` (issue 11).

Three streams from the bundled real recording: all 130 neurons with their identities at the
recording's 0.6 s per frame; 77 other neurons in another order, without identities, replayed at
0.3 s per frame (so the window is resampled onto the model's grid); and all 130 neurons again
without identities, at other frames. Each stream's engine must give exactly what an engine of its
own gives, whatever the other streams do in between.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from rtdecode.data import Recording
from rtdecode.engines import Engine, load_engine
from rtdecode.errors import ModelError
from rtdecode.preprocess import preprocess_traces

ENGINES = ("torch", "numba", "onnx")
EXACT = 1e-6  # same runtime, same code path: only the stream's own buffers differ
BATCHED = 1e-5  # a batch of windows may sum in another order than one window


@dataclass
class Stream:
    """A stream's preparation and its windows, oldest first."""

    labels: list[str | None] | None
    interval: float
    windows: list[tuple[np.ndarray, np.ndarray]]

    @property
    def n(self) -> int:
        return self.windows[0][0].shape[1]

    def prepare(self, engine: Engine) -> Engine:
        engine.prepare(self.n, self.labels, self.interval)
        return engine


def _stream(
    recording: Recording,
    columns: np.ndarray,
    labelled: bool,
    speed: float,
    window: int,
    offset: int,
) -> Stream:
    timestamps = recording.timestamps / speed
    features, valid = preprocess_traces(recording.traces[:, columns], timestamps)
    ends = np.linspace(window + offset, recording.n_frames, 6).astype(int)
    return Stream(
        labels=[recording.labels[c] for c in columns] if labelled else None,
        interval=recording.frame_interval / speed,
        windows=[(features[e - window : e], valid[e - window : e]) for e in ends],
    )


class Loaded(dict[str, Engine]):
    """The default model in each runtime, loaded on first use (once per module)."""

    def __missing__(self, name: str) -> Engine:
        if name == "onnx":
            pytest.importorskip("onnxruntime")
        engine = self[name] = load_engine(None, name)
        return engine


@pytest.fixture(scope="module")
def loaded() -> Loaded:
    return Loaded()


@pytest.fixture(scope="module")
def streams(bundled: Recording, loaded: Loaded) -> list[Stream]:
    w = loaded["torch"].window
    everything = np.arange(bundled.n_neurons)
    return [
        _stream(bundled, everything, True, 1.0, w, 0),
        _stream(bundled, everything[::-1][:77], False, 2.0, w, 7),
        _stream(bundled, everything, False, 1.0, w, 31),
    ]


def _dedicated(engine: Engine, stream: Stream) -> list[np.ndarray]:
    """Probabilities of every window of ``stream`` from ``engine`` serving that stream alone."""
    stream.prepare(engine)
    return [engine.infer(window, valid) for window, valid in stream.windows]


@pytest.mark.parametrize("name", ENGINES)
def test_interleaved_streams_get_what_dedicated_engines_give(
    name: str, loaded: Loaded, streams: list[Stream]
) -> None:
    first, other = streams[0], streams[1]
    base = loaded[name]
    expected = [_dedicated(base, first), _dedicated(base, other)]
    # The loaded engine keeps serving its stream; the new engine is prepared after it, for
    # another neuron count, identities and frame interval.
    first.prepare(base)
    engines = (base, other.prepare(base.for_stream()))
    for i in range(len(first.windows)):
        for s, (engine, stream) in enumerate(zip(engines, (first, other), strict=True)):
            got = engine.infer(*stream.windows[i])
            np.testing.assert_allclose(got, expected[s][i], rtol=0, atol=EXACT)
    # Preparing one stream again leaves the other's state alone.
    first.prepare(base)
    np.testing.assert_allclose(
        engines[1].infer(*other.windows[0]), expected[1][0], rtol=0, atol=EXACT
    )


@pytest.mark.parametrize("name", ENGINES)
def test_a_batch_of_mixed_neuron_counts_equals_each_window_alone(
    name: str, loaded: Loaded, streams: list[Stream]
) -> None:
    base = loaded[name]
    engines = [stream.prepare(base.for_stream()) for stream in streams]
    for i in range(len(streams[0].windows)):
        # Streams 0 and 2 have the same neuron count (stacked together where the runtime can),
        # and stream 1 brings two windows at once.
        jobs = [
            (engines[0], *streams[0].windows[i]),
            (engines[1], *streams[1].windows[i]),
            (engines[2], *streams[2].windows[i]),
            (engines[1], *streams[1].windows[-1 - i]),
        ]
        batch = base.infer_batch(jobs)
        alone = [engine.infer(window, valid) for engine, window, valid in jobs]
        assert len(batch) == len(jobs)
        for got, expected in zip(batch, alone, strict=True):
            assert got.dtype == np.float32 and got.shape == (len(base.states),)
            np.testing.assert_allclose(got, expected, rtol=0, atol=BATCHED)


@pytest.mark.parametrize("name", ENGINES)
def test_streams_share_the_loaded_model_and_own_their_buffers(
    name: str, loaded: Loaded, streams: list[Stream]
) -> None:
    base = loaded[name]
    first = streams[0].prepare(base.for_stream())
    second = streams[1].prepare(first.for_stream())
    shared = {"torch": "network", "numba": "_packed_weights", "onnx": "session"}[name]
    own = {"torch": "_x", "numba": "_workspace", "onnx": "_binding"}[name]
    for engine in (first, second):
        assert type(engine) is type(base)
        assert engine.model is base.model  # type: ignore[attr-defined]
        assert getattr(engine, shared) is getattr(base, shared)
    assert getattr(first, own) is not getattr(second, own)
    assert first._adapter is not second._adapter  # type: ignore[attr-defined]
    # A new stream's engine starts unprepared, whatever its origin was prepared for.
    with pytest.raises(ModelError, match=r"prepare\("):
        second.for_stream().infer(*streams[1].windows[0])


def test_a_batch_is_refused_before_any_job_runs_naming_the_job(
    loaded: Loaded, streams: list[Stream]
) -> None:
    base = loaded["torch"]
    ready = streams[0].prepare(base.for_stream())
    window = streams[0].windows[0]
    with pytest.raises(ModelError, match=r"job 1 .*for_stream\(\)"):
        base.infer_batch([(ready, *window), (loaded["numba"], *window)])
    with pytest.raises(ModelError, match=r"job 1 .*prepare\("):
        base.infer_batch([(ready, *window), (base.for_stream(), *window)])
    narrower = streams[1].windows[0]
    with pytest.raises(ModelError, match=r"job 2 .*do not match the prepared stream"):
        base.infer_batch([(ready, *window), (ready, *window), (ready, *narrower)])
