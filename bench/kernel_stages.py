"""Thread CPU time of each stage of the numba engine's kernel (``rtdecode/kernels/gnn.py``).

Each stage runs ``--repeats`` times inside one compiled loop, so Numba's dispatcher (which
unboxes the weight and workspace tuples, tens of arrays, on every call from Python) drops out;
a sample is the loop's time divided by the repeats. Real windows of the bundled recording,
neurons repeated to N. Usage::

    python bench/kernel_stages.py --neurons 150 --neurons 302
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from numba import njit

from rtdecode.data import bundled_recording
from rtdecode.engines._numba import NumbaEngine
from rtdecode.kernels import gnn
from rtdecode.models import load_model_file
from rtdecode.preprocess import preprocess_traces


def _stages(repeats: int) -> dict[str, Callable[..., None]]:
    """Compiled loops: stage name -> function of ``(x, valid, ids, recent, w, ws, probs)``."""

    @njit
    def whole(x, valid, ids, recent, w, ws, probs):
        for _ in range(repeats):
            gnn.forward_views(x, valid, ids, recent, w, ws, probs)

    @njit
    def node_inputs(x, valid, ids, recent, w, ws, probs):
        for _ in range(repeats):
            gnn._node_inputs(x, valid, recent, ws)

    @njit
    def correlation(x, valid, ids, recent, w, ws, probs):
        for _ in range(repeats):
            gnn._correlation(ws.unit, ws.corr)

    @njit
    def encoder(x, valid, ids, recent, w, ws, probs):
        for _ in range(repeats):
            gnn._dense(ws.inputs, w.enc1, w.enc1_b, ws.hidden, True)
            gnn._dense(ws.hidden, w.enc2, w.enc2_b, ws.h, True)

    @njit
    def edge_rounds(x, valid, ids, recent, w, ws, probs):
        for _ in range(repeats):
            for r in range(w.edge_proj.shape[0]):
                gnn._edge_round(w, r, ws)

    return {
        "whole": whole,
        "node_inputs": node_inputs,
        "correlation": correlation,
        "encoder": encoder,
        "edge_rounds": edge_rounds,
    }


def measure(n_neurons: int, samples: int, repeats: int) -> dict[str, float]:
    """Median microseconds per call of each stage at ``n_neurons`` neurons."""
    recording = bundled_recording()
    columns = np.arange(n_neurons) % recording.n_neurons
    features, valid = preprocess_traces(recording.traces[:, columns], recording.timestamps)
    engine = NumbaEngine(load_model_file())
    engine.prepare(n_neurons, None, recording.frame_interval)
    end = recording.n_frames
    adapter = engine._adapt(features[end - engine.window : end], valid[end - engine.window : end])
    weights = engine.weights
    workspace = gnn.gnn_workspace(weights, n_neurons, engine.model.model_window)
    args = (
        adapter.x,
        adapter.valid,
        engine._label_ids,
        engine.recent,
        weights,
        workspace,
        np.zeros(len(engine.states), np.float32),
    )
    stages = _stages(repeats)
    for stage in stages.values():
        stage(*args)  # compile, and fill the workspace for the stages that read it
    times: dict[str, list[int]] = {name: [] for name in stages}
    for _ in range(samples):
        for name, stage in stages.items():
            start = time.thread_time_ns()
            stage(*args)
            times[name].append(time.thread_time_ns() - start)
    return {name: float(np.median(t)) / repeats / 1e3 for name, t in times.items()}


def main() -> None:
    """Parse arguments and print one row per neuron count."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--neurons", action="append", type=int, default=None)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    for n in args.neurons or [150, 302]:
        row = measure(n, args.samples, args.repeats)
        print(f"N={n:<4} " + "  ".join(f"{name} {us:.1f} us" for name, us in row.items()))


if __name__ == "__main__":
    main()
