"""Write each held-out animal's per-frame scores (components and fused decision) for a LOWO sweep.

For every animal of ``--data`` (leave one animal out), :func:`rtdecode.calibration.fold_scores`
chooses every setting by nested leave-one-animal-out over the other animals, fits the
cross-animal heads on them and the animal's own heads on its first ``--calibration-s`` seconds,
and scores the frames after. One ``<recording id>.npz`` per animal and identities setting is
written to ``--out`` (``<id>.npz`` without identities, ``<id>.ids.npz`` with them), holding
``t``, ``p`` (fused), ``p_<component>``, ``reversal``, ``velocity``, ``scored_from_s`` and
``identities``; ``choices.json`` records what each fold chose.

    python tools/onset_scores.py --data ../shared/data/flavell2023 --out .onset-scores
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--identities", choices=("no", "yes", "both"), default="both")
    parser.add_argument("--calibration-s", type=float, default=180.0)
    parser.add_argument(
        "--velocity-roles", action="store_true", help="also try pooling by a velocity role"
    )
    args = parser.parse_args()

    from rtdecode.calibration import ScoreConfig, fold_scores, load_animals

    animals = load_animals(args.data)
    config = ScoreConfig(calibration_s=args.calibration_s, velocity=args.velocity_roles)
    settings = {"no": (False,), "yes": (True,), "both": (False, True)}[args.identities]
    args.out.mkdir(parents=True, exist_ok=True)
    choices = {}
    started = time.perf_counter()
    for identities in settings:
        for i, animal in enumerate(animals):
            scores = fold_scores(animals, i, identities=identities, config=config)
            name = f"{animal.id}.ids" if identities else animal.id
            scores.save(args.out / f"{name}.npz")
            choices[name] = scores.choices
            print(f"{time.perf_counter() - started:6.0f} s {name}: {scores.choices}", flush=True)
    (args.out / "choices.json").write_text(json.dumps(choices, indent=1))


if __name__ == "__main__":
    main()
