"""Fit the fused decision's cross-animal part on recordings with behaviour and save it.

Every choice (role pooling, each head's strength, the fusion) is made by leave-one-animal-out
over the recordings in ``--data`` (as ``rtdecode.calibration.fold_scores`` makes it for a
held-out animal); the heads are then fit on all of them. ``rtdecode run --fused OUT`` loads it.

    python tools/fit_cross_model.py --data ../shared/data/flavell2023 --out cross-model.npz
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    """Fit, save, print what was chosen (JSON)."""
    from rtdecode.calibration import fit_cross_model, load_animals, save_cross_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of recordings with behaviour")
    parser.add_argument("--out", required=True, help="the .npz to write")
    parser.add_argument("--identities", action="store_true", help="use identified neurons too")
    args = parser.parse_args()
    start = time.perf_counter()
    model, choices = fit_cross_model(load_animals(args.data), args.identities)
    choices["fit_s"] = round(time.perf_counter() - start, 1)
    save_cross_model(args.out, model, choices)
    print(json.dumps(choices, indent=1))


if __name__ == "__main__":
    main()
