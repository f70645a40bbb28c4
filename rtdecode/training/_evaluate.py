"""Evaluation: a model run causally over whole recordings, per-animal metrics, and LOWO."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.decisions import save_decisions
from rtdecode.events import SUMMARY_KEYS, pooled_lags, score_fires
from rtdecode.metrics import auroc, balanced_accuracy, f1_score
from rtdecode.models import ModelFile
from rtdecode.policy import PolicyConfig, replay_policy
from rtdecode.preprocess import PreprocessConfig
from rtdecode.training._dataset import Prepared
from rtdecode.training._fit import STATES, TrainConfig, predict_recording, train_model
from rtdecode.training._folds import fold_model
from rtdecode.training._parallel import Runner

__all__ = [
    "LOWO_FIRST_FRAME",
    "METRIC_KEYS",
    "evaluate_model",
    "lowo",
    "lowo_fold",
    "lowo_report",
    "policy_fires",
    "recording_metrics",
    "summarise",
]

THRESHOLD = 0.5
METRIC_KEYS = ("balanced_accuracy", "auroc", "f1", *SUMMARY_KEYS)
"""Keys averaged over recordings into ``mean_*`` (the event keys: :data:`rtdecode.events.SUMMARY_KEYS`)."""
# LOWO scores frames from here on (76 s at 0.6 s/frame), the same frames for every model whose
# engine window is at most this long, once the running normalisation has settled.
LOWO_FIRST_FRAME = 127


def policy_fires(
    probs: np.ndarray,
    t: np.ndarray,
    policy: PolicyConfig | None = None,
    uncertain: np.ndarray | None = None,
) -> np.ndarray:
    """Times the trigger ``policy`` fires over decoded frames, run as it would run live.

    Parameters
    ----------
    probs
        ``(T,)`` reversal probability per decoded frame.
    t
        ``(T,)`` their frame times, seconds (the policy's clock).
    policy
        Default: :class:`~rtdecode.policy.PolicyConfig`'s defaults.
    uncertain
        ``(T,)`` frames the decoder abstained on (default: none).

    Returns
    -------
    numpy.ndarray
        Fire times, seconds.
    """
    probs = np.asarray(probs, np.float64)
    decisions = replay_policy(np.stack([1.0 - probs, probs], axis=1), t, STATES, policy, uncertain)
    return np.array([t[i] for i, decision in decisions if decision.kind == "fire"], np.float64)


def recording_metrics(
    prepared: Prepared,
    frames: np.ndarray,
    probs: np.ndarray,
    policy: PolicyConfig | None = None,
    save_to: Path | None = None,
) -> dict[str, Any]:
    """Metrics of one recording's decoded frames (only counts without behaviour).

    Per frame: balanced accuracy, AUROC and F1 at :data:`THRESHOLD`. Per event: the trigger
    ``policy`` (default: :class:`~rtdecode.policy.PolicyConfig`'s defaults) runs over the
    decoded frames on their frame times as it would live, and its fires are scored against the
    behavioural reversal onsets from the first decoded frame on
    (:func:`rtdecode.events.score_fires`; keys of :meth:`~rtdecode.events.EventScore.as_dict`).
    With ``save_to``, the decisions go there too (:func:`rtdecode.decisions.save_decisions`;
    frames inside the policy's abstain band are ``uncertain``).
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
        entry.update(reversal_fraction=None, **dict.fromkeys(METRIC_KEYS))
        return entry
    truth = prepared.reversal[frames]
    predicted = probs >= THRESHOLD
    entry.update(
        reversal_fraction=float(truth.mean()),
        balanced_accuracy=balanced_accuracy(truth, predicted),
        auroc=auroc(truth, probs),
        f1=f1_score(truth, predicted),
    )
    t = prepared.times
    fires = policy_fires(probs, t[frames], policy)
    start = float(t[frames[0]])
    entry.update(score_fires(fires, t, prepared.reversal, start).as_dict())
    if save_to is not None:
        band = (policy or PolicyConfig()).abstain
        p = np.full(prepared.n_frames, np.nan)
        p[frames] = probs
        unsure = (band[0] < p) & (p < band[1]) if band else np.zeros(len(p), bool)
        save_decisions(save_to, t, p, unsure, fires, prepared.reversal, start)
    return entry


def _mean(entries: list[dict[str, Any]], key: str) -> float | None:
    values = [e[key] for e in entries if e.get(key) is not None and math.isfinite(e[key])]
    return float(np.mean(values)) if values else None


def summarise(entries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """The report: per-recording entries, the means over recordings with scored frames, and
    ``lags``, the trigger lag distribution pooled over them (:func:`rtdecode.events.pooled_lags`).

    ``unscored`` lists the recordings with no scored frame (shorter than the window), which
    take no part in the means.
    """
    report: dict[str, Any] = {"recordings": entries}
    scored = [e for e in entries if e["frames"]]
    for key in METRIC_KEYS:
        report[f"mean_{key}"] = _mean(scored, key)
    report["lags"] = pooled_lags(scored)
    report["unscored"] = [e["id"] for e in entries if not e["frames"]]
    report.update(extra)
    return report


def _save_path(save_dir: Path | None, prepared: Prepared, method: str = "") -> Path | None:
    """``<dir>/<id>.npz`` (or ``<id>.<method>.npz``) for a recording with behaviour, else None."""
    if save_dir is None or prepared.reversal is None:
        return None
    return Path(save_dir) / f"{prepared.id}{'.' + method if method else ''}.npz"


def evaluate_model(
    model: ModelFile,
    data: list[Prepared],
    use_labels: bool = True,
    save_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``model`` over every recording (no training) and measure it where behaviour exists.

    With ``save_dir``, each recording's decisions go to ``<save_dir>/<id>.npz``; ``progress``
    is told which recording is decoded.
    """
    net = model.build()
    entries = []
    for i, prepared in enumerate(data):
        if progress is not None:
            progress(f"recording {i + 1}/{len(data)} {prepared.id}: decoding")
        frames, probs = predict_recording(model, net, prepared, use_labels=use_labels)
        entries.append(
            recording_metrics(prepared, frames, probs, save_to=_save_path(save_dir, prepared))
        )
    return entries


def lowo_fold(
    data: list[Prepared],
    held_out: int,
    config: TrainConfig,
    preprocess: PreprocessConfig,
    device: str = "cpu",
    cache: Path | None = None,
    save_dir: Path | None = None,
) -> dict[str, Any]:
    """One LOWO fold: train on every animal but ``data[held_out]``, decode that one.

    Frames from :data:`LOWO_FIRST_FRAME` on are scored, the same frames for every model. With
    ``cache`` (a folder) the fold model is read from there when it was trained before, and
    kept there otherwise (the cache ``rtdecode eval --calibrate`` shares). With ``save_dir``,
    the decisions go to ``<id>.npz`` (and, decoded without identities, ``<id>.no-ids.npz``).

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
        model = fold_model(data, held_out, config, preprocess, cache, device)
    net = model.build()
    result: dict[str, Any] = {"without_labels": None, "probs_without_labels": None}
    both = bool(model.labels) and config.architecture == "relational_gnn"
    for use_labels in (True, False) if both else (True,):
        frames, probs = predict_recording(model, net, held, use_labels=use_labels)
        keep = frames >= LOWO_FIRST_FRAME
        frames, probs = frames[keep], probs[keep]
        key = "" if use_labels else "_without_labels"
        path = _save_path(save_dir, held, "" if use_labels else "no-ids")
        result["without_labels" if key else "entry"] = recording_metrics(
            held, frames, probs, save_to=path
        )
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
    cache, save_dir)``."""
    held_out, config, preprocess, cache, save_dir = job
    return lowo_fold(data, held_out, config, preprocess, cache=cache, save_dir=save_dir)


def lowo(
    data: list[Prepared],
    config: TrainConfig,
    preprocess: PreprocessConfig,
    progress: Callable[[str], None] | None = None,
    cache: Path | None = None,
    save_dir: Path | None = None,
    runner: Runner | None = None,
) -> dict[str, Any]:
    """Leave one animal out: train on the others, decode the whole held-out recording causally.

    When the recipe uses identities the held-out animal is decoded twice, with its labels
    (``recordings``) and without (``without_labels``). ``cache``, ``save_dir``: see
    :func:`lowo_fold` (on a cluster, folders every worker sees). ``runner``: where the folds run (default: one after another in this process); every fold
    trains with ``config.seed``, wherever it runs. A fold that fails is listed under ``failed``
    (``id``, ``error``) and left out of the means; the others still run.
    """
    jobs = [(i, config, preprocess, cache, save_dir) for i in range(len(data))]
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
