"""What ``--fuse-behavior`` adds, per frame: the fused decision with live tracked velocity.

Reads the per-frame scores ``tools/trigger_scores.py --fused`` caches per held-out animal
(``<id>.noids.npz``) and scores the frames after calibration that have a tracked velocity, per
animal and as means: per-frame AUROC and balanced accuracy (threshold 0.5) of

* ``fused``: the neural fused decision (``score_fused``);
* ``fuse_behavior``: the product's ``--fuse-behavior`` stack (``score_fused_behavior``: the
  fusion's inputs and the velocity, fit on the training animals of each fold);
* ``velocity``: a logistic regression on the velocity alone, fit on the other animals (the
  velocity-only baseline).

    python tools/fuse_behavior_study.py --scores .fold-cache/scores
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _velocity_only(animals: dict[str, dict[str, np.ndarray]], held: str) -> np.ndarray:
    """The velocity-only logistic regression, fit leaving ``held`` out, on ``held``."""
    from sklearn.linear_model import LogisticRegression

    rest = [a for name, a in animals.items() if name != held]
    model = LogisticRegression(class_weight="balanced")
    model.fit(
        np.concatenate([a["velocity"] for a in rest])[:, None],
        np.concatenate([a["reversal"] for a in rest]).astype(bool),
    )
    return model.predict_proba(animals[held]["velocity"][:, None])[:, 1]


def main() -> None:
    """Score and print (JSON)."""
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", required=True, type=Path)
    args = parser.parse_args()
    animals = {}
    for path in sorted(args.scores.glob("*.noids.npz")):
        with np.load(path) as data:
            d = {k: data[k] for k in data.files}
        keep = (d["t"] >= float(d["calibration_end_s"])) & np.isfinite(d["score_fused"])
        keep &= np.isfinite(d["velocity"])
        animals[path.name.split(".")[0]] = {k: v[keep] for k, v in d.items() if v.ndim}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for kind in ("fused", "fuse_behavior", "velocity"):
        rows = {}
        for held, d in animals.items():
            if kind == "velocity":
                p = _velocity_only(animals, held)
            else:
                p = d["score_fused" if kind == "fused" else "score_fused_behavior"]
            y = d["reversal"].astype(bool)
            rows[held] = {
                "auroc": round(float(roc_auc_score(y, p)), 3),
                "balanced_accuracy": round(float(balanced_accuracy_score(y, p >= 0.5)), 3),
            }
        rows["mean"] = {
            key: round(float(np.mean([r[key] for r in rows.values()])), 3)
            for key in ("auroc", "balanced_accuracy")
        }
        out[kind] = rows
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
