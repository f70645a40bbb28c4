"""What ``--fuse-behavior`` would add: the fused neural score with live tracked velocity, offline.

Reads the per-frame scores ``tools/trigger_scores.py --fused`` caches per held-out animal
(``<id>.noids.npz``: ``score_fused``, ``velocity``, ``reversal``, ``t``, ``calibration_end_s``) and,
leave one animal out, fits a logistic regression on ``[logit(fused), velocity]`` (standardised) over the other
animals' frames after calibration, then scores the held-out animal's frames after calibration.
Prints per-frame AUROC and balanced accuracy (threshold 0.5, both states weighted equally in the
fit) per animal and as means, for the fused score alone, velocity alone and both.

    python tools/fuse_behavior_study.py --scores .fold-cache/scores
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _inputs(d: dict[str, np.ndarray], kind: str) -> np.ndarray:
    p = np.clip(d["score_fused"], 1e-4, 1 - 1e-4)
    logit = np.log(p / (1 - p))
    cols = {"fused": [logit], "velocity": [d["velocity"]], "both": [logit, d["velocity"]]}[kind]
    return np.stack(cols, axis=1)


def main() -> None:
    """Fit, score, print (JSON)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

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
    for kind in ("fused", "velocity", "both"):
        rows = {}
        for held, d in animals.items():
            rest = [a for name, a in animals.items() if name != held]
            model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced"))
            model.fit(
                np.vstack([_inputs(a, kind) for a in rest]),
                np.concatenate([a["reversal"] for a in rest]).astype(bool),
            )
            p = model.predict_proba(_inputs(d, kind))[:, 1]
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
