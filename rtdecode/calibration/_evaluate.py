"""``rtdecode eval --calibrate``: simulated sessions over recordings, LOWO or one model."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.calibration._crossfile import shipped_cross_model
from rtdecode.calibration._decision import DEFAULT_PART
from rtdecode.calibration._fused_session import as_animal, fused_session
from rtdecode.calibration._head import CalibrationConfig
from rtdecode.calibration._simulate import (
    FUSED_METHODS,
    METHODS,
    calibration_metrics,
    fused_probs,
    simulate_session,
)
from rtdecode.config import PreprocessConfig
from rtdecode.events import SUMMARY_KEYS, pooled_lags
from rtdecode.models import ModelFile
from rtdecode.training import fold_model
from rtdecode.training._dataset import Prepared
from rtdecode.training._fit import TrainConfig, predict_recording
from rtdecode.training._parallel import Runner

__all__ = ["calibrate_lowo", "calibrate_model", "calibration_table", "default_session"]

Progress = Callable[[str], None] | None


def default_session(seconds: Sequence[float], labels: Sequence[bool]) -> tuple[str, float, bool]:
    """The simulated session that is what ``rtdecode run`` decides by default.

    ``rtdecode run`` calibrates for ``CalibrationConfig().seconds`` (180 s), then the fused
    decision's default part decides (``fused_calibrated``; the shipped model, with the stream's
    identities when there are any, decides before): that length when it is among ``seconds``
    (else the first), with identities when among ``labels``.
    """
    run_s = CalibrationConfig().seconds
    chosen = run_s if run_s in seconds else seconds[0]
    return f"fused_{DEFAULT_PART}", chosen, True in labels


def _sessions(
    model: ModelFile,
    prepared: Prepared,
    seconds: Sequence[float],
    config: CalibrationConfig,
    abstain: tuple[float, float],
    labels: Sequence[bool],
    fused: Callable[[float], tuple[np.ndarray, np.ndarray]],
    save_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Entries of one recording: per identities setting, calibration length and method.

    ``fused(S)`` gives the fused decision's outputs after calibrating for ``S`` seconds
    (:func:`~rtdecode.calibration._fused_session.fused_session`). With ``save_dir``, every session's
    decisions go to ``<id>.<method>-<S>s[-no-ids].npz``, and what ``rtdecode run`` would decide
    by default (see :func:`default_session`) also to ``<id>.npz``.
    """
    net = model.build()
    out = []
    default = default_session(seconds, labels)
    outputs = {s: fused(s) for s in seconds}
    for use_labels in labels:
        frames, shipped = predict_recording(model, net, prepared, use_labels=use_labels)
        for s in seconds:
            session = simulate_session(prepared, frames, shipped.astype(np.float64), s, config)
            full = np.full(prepared.n_frames, np.nan)
            full[frames] = shipped
            fused_probs(session, outputs[s], prepared, full, config)
            for method in METHODS:
                probs = session["probs"][method]
                if save_dir is not None and (method, s, use_labels) == default:
                    calibration_metrics(
                        prepared, session["frames"], probs, abstain, save_dir / f"{prepared.id}.npz"
                    )
                name = f"{method}-{s:g}s" + ("" if use_labels else "-no-ids")
                path = None if save_dir is None else save_dir / f"{prepared.id}.{name}.npz"
                entry = calibration_metrics(prepared, session["frames"], probs, abstain, path)
                entry.update(seconds=s, labels=use_labels, method=method)
                if method in session["calibration"]:
                    entry["calibration"] = session["calibration"][method]
                out.append(entry)
    return out


def _fold_sessions(data: list[Prepared], job: tuple[Any, ...]) -> list[dict[str, Any]]:
    """One fold as a :meth:`Runner.map` task: the fold model (from the cache when there), then
    the held-out animal's sessions. ``job``: ``(held_out, recipe, preprocess, seconds, config,
    abstain, cache, save_dir)``."""
    i, recipe, preprocess, seconds, config, abstain, cache, save_dir = job
    model = fold_model(data, i, recipe, preprocess, cache)
    animals = [as_animal(d) for d in data if d.reversal is not None]
    held = [a.id for a in animals].index(data[i].id)
    labels = (False, True) if model.labels else (False,)
    if config.prior is not None:
        rates = [
            float(d.reversal.mean())
            for j, d in enumerate(data)
            if j != i and d.reversal is not None
        ]
        config = replace(config, prior=float(np.mean(rates)))
    fused = partial(fused_session, animals, held)
    return _sessions(model, data[i], seconds, config, abstain, labels, fused, save_dir)


def calibrate_lowo(
    data: list[Prepared],
    recipe: TrainConfig,
    preprocess: PreprocessConfig,
    seconds: Sequence[float],
    config: CalibrationConfig,
    abstain: tuple[float, float],
    cache: Path | None = None,
    progress: Progress = None,
    save_dir: Path | None = None,
    runner: Runner | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """LOWO: per held-out animal, the fold model (from ``cache`` when there), then sessions
    (``save_dir``: as for :func:`calibrate_model`).

    The held-out animal is decoded with and without its identities when the model has them.
    A ``config.prior`` is replaced per fold by the training animals' mean reversal fraction
    (what the fold model's prior would be), so the held-out animal's rate is never used.
    ``runner``: where the folds run (default: in this process, one after another).

    Returns
    -------
    entries, failed
        The sessions' entries of every fold that finished, in animal order, and ``{"id",
        "error"}`` of each fold that failed (the others still ran).
    """
    jobs = [
        (i, recipe, preprocess, seconds, config, abstain, cache, save_dir) for i in range(len(data))
    ]
    outcome = (runner or Runner()).map(
        _fold_sessions, jobs, data, names=[d.id for d in data], what="folds", echo=progress
    )
    entries = [entry for _, fold in outcome.succeeded() for entry in fold]
    return entries, [{"id": f.name, "error": f.error} for f in outcome.failures]


def calibrate_model(
    model: ModelFile,
    data: list[Prepared],
    seconds: Sequence[float],
    config: CalibrationConfig,
    abstain: tuple[float, float],
    use_labels: bool,
    save_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """One model over every recording (no training): sessions with and/or without identities.

    The fused decision uses the shipped cross-animal part. With ``save_dir``, each session's
    decisions go to ``<id>.<method>-<S>s[-no-ids].npz`` and the default one's
    (:func:`default_session`) to ``<id>.npz`` too.
    """
    labels = (False, True) if use_labels and model.labels else (False,)
    cross = shipped_cross_model()
    entries = []
    for prepared in data:
        if prepared.reversal is not None:
            fused = partial(fused_session, [as_animal(prepared)], 0, cross=cross)
            entries += _sessions(model, prepared, seconds, config, abstain, labels, fused, save_dir)
    return entries


MEAN_KEYS = (
    "balanced_accuracy",
    "auroc",
    "ece",
    "coverage",
    "covered_balanced_accuracy",
    *SUMMARY_KEYS,
)


def _mean(values: list[Any]) -> float | None:
    kept = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return float(np.mean(kept)) if kept else None


def calibration_table(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Means over recordings per (identities, calibration seconds, method), one row each, with
    the lag distribution pooled over them (``lags``)."""
    rows = []
    keys = sorted({(e["labels"], e["seconds"], METHODS.index(e["method"])) for e in entries})
    present = [k for k in MEAN_KEYS if any(k in e for e in entries)]
    for labels, seconds, m in keys:
        group = [
            e
            for e in entries
            if e["labels"] == labels and e["seconds"] == seconds and e["method"] == METHODS[m]
        ]
        row: dict[str, Any] = {"labels": labels, "seconds": seconds, "method": METHODS[m]}
        row.update({f"mean_{k}": _mean([e.get(k) for e in group]) for k in present})
        row["recordings"] = len(group)
        row["lags"] = pooled_lags(group)
        if METHODS[m] in ("calibrated", "balanced"):
            row["heads_chosen"] = sum(e["calibration"]["chosen"] == "calibrated" for e in group)
        elif METHODS[m] in FUSED_METHODS:  # the rest fell back to the calibrated method
            row["heads_chosen"] = sum(e["calibration"]["decides"] for e in group)
        rows.append(row)
    return rows
