"""Per-frame scores of every held-out animal, cached on disk for the trigger study.

For each recording in ``--data`` (leave one animal out), the fold model (``gnn`` recipe, seed 0,
from ``--fold-cache`` as ``rtdecode eval --protocol lowo --fold-cache`` keeps it) decodes the
held-out recording with and without its identities, and a session is simulated on it as
``rtdecode eval --calibrate`` does (the animal's head fit on its first ``--seconds``). Written per
animal and identities setting, ``<out>/<id>.<ids|noids>.npz``:

``t``                  frame times in s (every frame of the recording)
``reversal``           the tracked 0/1 reversal label per frame
``velocity``           the tracked velocity per frame (mm/s, forward positive)
``calibration_end_s``  where the calibration period ends (scoring starts there)
``score_<name>``       per frame, NaN where a score has none (the shipped GNN's fold model):
                       ``shipped`` the fold model's reversal probability;
                       ``calibrated`` / ``balanced`` the head-or-shipped choice of
                       ``rtdecode eval --calibrate`` (plain / both states weighted equally);
                       ``baseline`` the per-animal logistic regression on running z-scores;
                       ``velocity`` minus the tracked velocity (the velocity-only trigger);
                       with ``--fused``, the fused decision of ``rtdecode.calibration.fold_scores``
                       (identity-free roles or identities, calibrated state head, onset heads;
                       every choice nested) as ``fused`` and its parts as ``fused_<component>``;
                       ``fused_behavior`` the fused decision with the tracked velocity
                       (``rtdecode run --fuse-behavior``).

After the calibration period every score is what the live decoder gives. Over the calibration
period a head's scores are cross-fitted, what a live decoder can know at the period's end without
scoring a frame with a head fit on it: the period is cut into ``CalibrationConfig.blocks``
consecutive blocks and each block is scored by the head fit (and rescaled) on the other blocks.
The budget threshold is set on these. The shipped model's and the velocity's own scores are out of
sample everywhere.

    python tools/trigger_scores.py --data ../shared/data/flavell2023 --fold-cache .fold-cache \\
        --out .fold-cache/scores
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

KINDS = {"ids": True, "noids": False}
"""File tag -> whether the held-out animal is decoded with its identities."""


def _crossfit_baseline(b: np.ndarray, y: np.ndarray, blocks: int) -> np.ndarray:
    """The per-animal logistic regression's calibration rows, cross-fitted over blocks."""
    from rtdecode.calibration._logreg import fit_logistic, sigmoid
    from rtdecode.calibration._simulate import BASELINE_PENALTY

    out = np.full(len(y), np.nan)
    for block in np.array_split(np.arange(len(y)), blocks):
        rest = np.ones(len(y), bool)
        rest[block] = False
        if y[rest].any() and not y[rest].all():
            w, c = fit_logistic(b[rest], y[rest], BASELINE_PENALTY)
            out[block] = sigmoid(b[block] @ w + c)
    return out


def session_scores(
    held: Any, frames: np.ndarray, shipped: np.ndarray, seconds: float, prior: float
) -> dict[str, np.ndarray]:
    """Every score of one held-out animal per frame (see the module docstring)."""
    from rtdecode.calibration._head import (
        CalibrationConfig,
        crossfit_scores,
        fit_calibration,
        recording_head_features,
    )
    from rtdecode.calibration._simulate import _baseline_features, simulate_session

    config = CalibrationConfig(prior=prior)
    session = simulate_session(held, frames, shipped, seconds, config)
    full = np.full(held.n_frames, np.nan)
    full[frames] = shipped
    x = recording_head_features(held.features, held.valid, full)
    first = int(np.ceil(config.skip_s / held.frame_interval))
    end = int(np.ceil(seconds / held.frame_interval))
    y = held.reversal[first:end]
    scored = session["frames"]
    scores = {"shipped": full.copy()}
    for method, balanced in (("calibrated", False), ("balanced", True)):
        setting = replace(config, balanced=balanced)
        result = fit_calibration(x[first:end], y, full[first:end], setting)
        s = full.copy()
        s[end:] = np.nan
        if result.head is not None:
            s[first:end] = crossfit_scores(x[first:end], y, result.head, setting)
        s[scored] = session["probs"][method]
        scores[method] = s
    s = np.full(held.n_frames, np.nan)
    s[first:end] = _crossfit_baseline(_baseline_features(held)[first:end], y, config.blocks)
    s[scored] = session["probs"]["baseline"]
    scores["baseline"] = s
    return scores


def fused_scores(animals: list[Any], held: int, identities: bool) -> dict[str, np.ndarray]:
    """``fold_scores``' fused decision and its parts over the whole recording; the calibration
    period cross-fitted as above (``AnimalDecoder.crossfit``)."""
    from rtdecode.calibration._decision import COMPONENTS
    from rtdecode.calibration._fused_session import crossfit_period
    from rtdecode.calibration._scores import ScoreConfig, fold_decoder

    config = ScoreConfig()
    decoder, _ = fold_decoder(animals, held, identities, config)
    a = animals[held]
    rows = np.flatnonzero((a.t >= config.skip_s) & (a.t < config.calibration_s))
    out = {}
    for fuse in (False, True) if decoder.model.behavior is not None else (False,):
        decoder.fuse_behavior = fuse
        probs = decoder.recording(a.features, a.valid, a.velocity)
        probs[: rows[-1] + 1] = np.nan
        probs[rows] = crossfit_period(decoder, a, rows)
        if fuse:
            out["fused_behavior"] = probs[:, len(COMPONENTS)]
            continue
        out.update({f"fused_{name}": probs[:, i] for i, name in enumerate(COMPONENTS)})
        out["fused"] = probs[:, len(COMPONENTS)]
    return out


def main() -> None:
    import torch

    from rtdecode.calibration import load_animals
    from rtdecode.data import discover_recordings, load_recording
    from rtdecode.preprocess import PreprocessConfig
    from rtdecode.training import fold_model
    from rtdecode.training._fit import predict_recording
    from rtdecode.training._load import prepare_folder
    from rtdecode.training._presets import preset

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--fold-cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--fused", action="store_true", help="add fold_scores' fused decision")
    args = parser.parse_args()
    torch.set_num_threads(1)
    preprocess = PreprocessConfig()
    data = prepare_folder(args.data, preprocess, need_behaviour=True)
    recordings = {r.id: r for r in map(load_recording, discover_recordings(args.data))}
    args.out.mkdir(parents=True, exist_ok=True)
    fused_animals = load_animals(args.data) if args.fused else []
    for i, held in enumerate(data):
        model = fold_model(data, i, preset("gnn", threads=1), preprocess, args.fold_cache)
        prior = float(np.mean([d.reversal.mean() for j, d in enumerate(data) if j != i]))
        rec = recordings[held.id]
        t = np.asarray(rec.timestamps, np.float64)
        for tag, use_labels in KINDS.items():
            path = args.out / f"{held.id}.{tag}.npz"
            if path.exists() and (not args.fused or "score_fused_behavior" in np.load(path).files):
                continue
            frames, shipped = predict_recording(model, model.build(), held, use_labels=use_labels)
            scores = session_scores(held, frames, shipped.astype(np.float64), args.seconds, prior)
            velocity = np.asarray(rec.velocity, np.float64)
            extra = fused_scores(fused_animals, i, use_labels) if args.fused else {}
            np.savez(
                path,
                t=t - t[0],
                reversal=held.reversal.astype(np.int8),
                velocity=velocity,
                calibration_end_s=float(t[int(np.ceil(args.seconds / held.frame_interval))] - t[0]),
                **{f"score_{k}": v for k, v in scores.items()},
                score_velocity=-velocity,
                **{f"score_{k}": v for k, v in extra.items()},
            )
            print(f"{path}: written", flush=True)


if __name__ == "__main__":
    main()
