"""Evaluation: a model run causally over whole recordings, per-animal metrics, and LOWO."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.events import onset_indices, score_events
from rtdecode.metrics import auroc, balanced_accuracy, f1_score
from rtdecode.models import ModelFile
from rtdecode.preprocess import PreprocessConfig
from rtdecode.training._dataset import Prepared
from rtdecode.training._fit import STATES, TrainConfig, predict_recording, train_model
from rtdecode.training._parallel import Runner
from rtdecode.trigger import PolicyConfig, replay_policy

__all__ = [
    "LOWO_FIRST_FRAME",
    "METRIC_KEYS",
    "evaluate_model",
    "lowo",
    "lowo_fold",
    "lowo_report",
    "recording_metrics",
    "summarise",
]

THRESHOLD = 0.5
METRIC_KEYS = (
    "balanced_accuracy",
    "auroc",
    "f1",
    "onset_hit_rate",
    "false_triggers_per_min",
    "trigger_lag_s",
)
"""Keys averaged over recordings into ``mean_*``."""
# LOWO scores frames from here on (76 s at 0.6 s/frame), the same frames for every model whose
# engine window is at most this long, once the running normalisation has settled.
LOWO_FIRST_FRAME = 127


def recording_metrics(
    prepared: Prepared,
    frames: np.ndarray,
    probs: np.ndarray,
    policy: PolicyConfig | None = None,
) -> dict[str, Any]:
    """Metrics of one recording's decoded frames (only counts without behaviour).

    Per frame: balanced accuracy, AUROC and F1 at :data:`THRESHOLD`. Per event: the trigger
    ``policy`` (default: :class:`~rtdecode.trigger.PolicyConfig`'s defaults) runs over the
    decoded frames as it would live, and its fires are scored against the behavioural reversal
    onsets (:func:`rtdecode.events.score_events`).
    """
    entry: dict[str, Any] = {
        "id": prepared.id,
        "frames": len(frames),
        "neurons": int(prepared.features.shape[1]),
        "frame_interval_s": round(prepared.frame_interval, 4),
        "predicted_reversal_fraction": float((probs >= THRESHOLD).mean()) if len(probs) else None,
    }
    if prepared.reversal is None:
        return entry
    if not len(frames):  # too short to fill a window: nothing was scored
        entry.update(
            reversal_fraction=None, onsets=None, triggers=None, **dict.fromkeys(METRIC_KEYS)
        )
        return entry
    truth = prepared.reversal[frames]
    predicted = probs >= THRESHOLD
    entry.update(
        reversal_fraction=float(truth.mean()),
        balanced_accuracy=balanced_accuracy(truth, predicted),
        auroc=auroc(truth, probs),
        f1=f1_score(truth, predicted),
    )
    entry.update(_trigger_metrics(truth, probs, frames, prepared.frame_interval, policy))
    return entry


def _trigger_metrics(
    truth: np.ndarray,
    probs: np.ndarray,
    frames: np.ndarray,
    frame_interval: float,
    policy: PolicyConfig | None,
) -> dict[str, Any]:
    """The trigger policy's fires over decoded frames, scored against behavioural onsets."""
    t = frames * frame_interval
    decisions = replay_policy(np.stack([1.0 - probs, probs], axis=1), t, STATES, policy)
    fires = np.array([t[i] for i, decision in decisions if decision.kind == "fire"])
    score = score_events(fires, t[onset_indices(truth)], len(frames) * frame_interval)
    return {
        "onsets": score.onsets,
        "triggers": score.events,
        "onset_hit_rate": score.onset_hit_rate,
        "false_triggers_per_min": score.false_per_min,
        "trigger_lag_s": score.lag_s,
    }


def _mean(entries: list[dict[str, Any]], key: str) -> float | None:
    values = [e[key] for e in entries if e.get(key) is not None and math.isfinite(e[key])]
    return float(np.mean(values)) if values else None


def summarise(entries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """The report: per-recording entries plus the means over recordings with scored frames.

    ``unscored`` lists the recordings with no scored frame (shorter than the window), which
    take no part in the means.
    """
    report: dict[str, Any] = {"recordings": entries}
    scored = [e for e in entries if e["frames"]]
    for key in METRIC_KEYS:
        report[f"mean_{key}"] = _mean(scored, key)
    report["unscored"] = [e["id"] for e in entries if not e["frames"]]
    report.update(extra)
    return report


def evaluate_model(
    model: ModelFile, data: list[Prepared], use_labels: bool = True
) -> list[dict[str, Any]]:
    """Run ``model`` over every recording (no training) and measure it where behaviour exists."""
    net = model.build()
    entries = []
    for prepared in data:
        frames, probs = predict_recording(model, net, prepared, use_labels=use_labels)
        entries.append(recording_metrics(prepared, frames, probs))
    return entries


def lowo_fold(
    data: list[Prepared],
    held_out: int,
    config: TrainConfig,
    preprocess: PreprocessConfig,
    device: str = "cpu",
    cache: Path | None = None,
) -> dict[str, Any]:
    """One LOWO fold: train on every animal but ``data[held_out]``, decode that one.

    Frames from :data:`LOWO_FIRST_FRAME` on are scored, the same frames for every model. With
    ``cache`` (a folder) the fold model is read from there when it was trained before, and
    kept there otherwise (the cache ``rtdecode eval --calibrate`` shares).

    Returns
    -------
    dict
        ``entry`` (metrics with identities), ``without_labels`` (metrics without, or
        ``None`` for a model without label embeddings), ``frames`` and ``probs`` /
        ``probs_without_labels`` (the decoded reversal probabilities).
    """
    held = data[held_out]
    if cache is None:
        train = [d for i, d in enumerate(data) if i != held_out]
        model = train_model(train, config, preprocess, {"held_out": held.id}, device=device)
    else:
        from rtdecode.calibration._folds import fold_model

        model = fold_model(data, held_out, config, preprocess, cache, device)
    net = model.build()
    result: dict[str, Any] = {"without_labels": None, "probs_without_labels": None}
    both = bool(model.labels) and config.architecture == "relational_gnn"
    for use_labels in (True, False) if both else (True,):
        frames, probs = predict_recording(model, net, held, use_labels=use_labels)
        keep = frames >= LOWO_FIRST_FRAME
        frames, probs = frames[keep], probs[keep]
        key = "" if use_labels else "_without_labels"
        result["without_labels" if key else "entry"] = recording_metrics(held, frames, probs)
        result["probs" + key] = probs
        result["frames"] = frames
    return result


def lowo_report(folds: list[dict[str, Any]], config: TrainConfig, seconds: float) -> dict[str, Any]:
    """Assemble LOWO folds into the report ``rtdecode eval --json`` writes."""
    report = summarise(
        [f["entry"] for f in folds],
        protocol="lowo",
        first_frame=LOWO_FIRST_FRAME,
        recipe=dataclasses.asdict(config),
        seconds=round(seconds, 1),
    )
    unlabelled = [f["without_labels"] for f in folds if f["without_labels"] is not None]
    if len(unlabelled) == len(folds) and config.architecture == "relational_gnn":
        report["without_labels"] = summarise(unlabelled)
    return report


def _fold_task(data: list[Prepared], job: tuple[Any, ...]) -> dict[str, Any]:
    """One fold as a :meth:`Runner.map` task: ``job`` is ``(held_out, config, preprocess,
    cache)``."""
    held_out, config, preprocess, cache = job
    return lowo_fold(data, held_out, config, preprocess, cache=cache)


def lowo(
    data: list[Prepared],
    config: TrainConfig,
    preprocess: PreprocessConfig,
    progress: Callable[[str], None] | None = None,
    cache: Path | None = None,
    runner: Runner | None = None,
) -> dict[str, Any]:
    """Leave one animal out: train on the others, decode the whole held-out recording causally.

    When the recipe uses identities the held-out animal is decoded twice, with its labels
    (``recordings``) and without (``without_labels``). ``cache``: see :func:`lowo_fold`.
    ``runner``: where the folds run (default: one after another in this process); every fold
    trains with ``config.seed``, wherever it runs. A fold that fails is listed under ``failed``
    (``id``, ``error``) and left out of the means; the others still run.
    """
    jobs = [(i, config, preprocess, cache) for i in range(len(data))]
    outcome = (runner or Runner()).map(
        _fold_task,
        jobs,
        data,
        names=[d.id for d in data],
        what="folds",
        describe=lambda fold: f"balanced accuracy {fold['entry']['balanced_accuracy']:.3f}",
        echo=progress,
    )
    report = lowo_report([fold for _, fold in outcome.succeeded()], config, outcome.seconds)
    report["failed"] = [{"id": f.name, "error": f.error} for f in outcome.failures]
    return report
