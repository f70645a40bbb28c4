"""Would float16 activity in the session file change the graph ``rtdecode view`` shows?

Preprocesses the bundled recording as the decoder does (float32), runs the shipped model's edge
module on windows every 50 frames, once on the rows as computed and once on the rows rounded to
float16, and prints the largest change of an edge weight (relative to the largest weight) and
the share of the 40 strongest edges both keep.

    python tools/session_edges_f16.py
"""

from __future__ import annotations

import numpy as np
import torch

from rtdecode.data import bundled_recording
from rtdecode.models import load_model_file
from rtdecode.preprocess import preprocess_traces
from rtdecode.view._edges import EdgeModule, top_edges


def main() -> None:
    """Compare, print."""
    torch.set_num_threads(1)
    recording, model = bundled_recording(), load_model_file(None)
    features, valid = preprocess_traces(recording.traces, recording.timestamps, model.preprocess)
    w = model.window
    module = EdgeModule(None, w, recording.n_neurons, recording.labels, recording.frame_interval)
    worst, shared = 0.0, []
    for end in range(w, len(features), 50):
        rows, mask = features[end - w : end], valid[end - w : end]
        exact, _ = module(rows.copy(), mask)
        rounded, _ = module(rows.astype(np.float16).astype(np.float32), mask)
        worst = max(worst, float(np.abs(exact - rounded).max() / np.abs(exact).max()))
        a, b = top_edges(exact, 40), top_edges(rounded, 40)
        shared.append(
            len(set(zip(a[0], a[1], strict=True)) & set(zip(b[0], b[1], strict=True))) / 40
        )
    print(
        f"{len(shared)} windows, {recording.n_neurons} neurons, window {w}: largest edge-weight "
        f"change {worst:.1e} of the largest weight; top-40 edges shared: worst {min(shared):.3f}, "
        f"mean {np.mean(shared):.4f}"
    )


if __name__ == "__main__":
    main()
