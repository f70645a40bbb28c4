"""A closed-loop session simulated on a recording: calibrate on its first seconds, score the rest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.calibration._decision import DEFAULT_PART, OUTPUTS
from rtdecode.calibration._evidence import switch_evidence
from rtdecode.calibration._head import (
    CalibrationConfig,
    Head,
    fit_calibration,
    recording_head_features,
)
from rtdecode.calibration._logreg import fit_logistic, sigmoid
from rtdecode.calibration._reliability import expected_calibration_error
from rtdecode.metrics import balanced_accuracy
from rtdecode.policy import PolicyConfig
from rtdecode.training._dataset import Prepared
from rtdecode.training._evaluate import THRESHOLD, recording_metrics

__all__ = [
    "BASELINE_PENALTY",
    "FUSED_METHODS",
    "METHODS",
    "calibration_metrics",
    "fused_probs",
    "simulate_session",
]

FUSED_METHODS = ("fused", f"fused_{DEFAULT_PART}")
METHODS = ("calibrated", "balanced", "shipped", "baseline", *FUSED_METHODS)
"""What a simulated session scores: the head-or-shipped choice (``calibrated``; ``balanced``: the
same with both behaviour states weighted equally in the fit), the shipped model alone, the
per-animal logistic regression on running z-scores fit on the calibration period, and issue
17's fused decision: its stack (``fused``) and the part that decides by default
(``fused_calibrated``, what ``rtdecode run`` decides after self-calibration)."""

BASELINE_PENALTY = 1.0
"""L2 strength of the plain per-animal logistic regression (scikit-learn's default ``C=1``)."""


def calibration_metrics(
    prepared: Prepared,
    frames: np.ndarray,
    probs: np.ndarray,
    abstain: tuple[float, float],
    save_to: Path | None = None,
) -> dict[str, Any]:
    """:func:`~rtdecode.training._evaluate.recording_metrics` plus reliability and abstention.

    The trigger policy behind the event metrics abstains in the same band (and ``save_to``
    keeps its decisions, as there). Adds ``ece``
    (expected calibration error), ``coverage`` (fraction of frames decided, i.e. whose
    probability is outside the abstain band ``(lo, hi)``) and ``covered_balanced_accuracy``
    (balanced accuracy on the decided frames).
    """
    entry = recording_metrics(prepared, frames, probs, PolicyConfig(abstain=abstain), save_to)
    lo, hi = abstain
    decided = (probs <= lo) | (probs >= hi)
    entry["coverage"] = float(decided.mean()) if len(probs) else float("nan")
    if prepared.reversal is None or not len(frames):
        return entry
    truth = prepared.reversal[frames]
    entry.update(
        ece=expected_calibration_error(truth, probs),
        covered_balanced_accuracy=balanced_accuracy(truth[decided], probs[decided] >= THRESHOLD),
    )
    return entry


def _baseline_features(prepared: Prepared) -> np.ndarray:
    """The baseline's inputs: every neuron's running z-score at the current and previous frame."""
    z = np.where(prepared.valid, prepared.features[..., 0], 0.0).astype(np.float64)
    return np.hstack([z, np.vstack([np.zeros((1, z.shape[1])), z[:-1]])])


def simulate_session(
    prepared: Prepared,
    frames: np.ndarray,
    shipped: np.ndarray,
    seconds: float,
    config: CalibrationConfig,
) -> dict[str, Any]:
    """Calibrate on the recording's first ``seconds`` and decode the frames after them.

    Parameters
    ----------
    prepared
        The recording (with behaviour).
    frames, shipped
        Frames the shipped model decoded and its reversal probabilities there.
    seconds
        Calibration length; frames at or after it are scored.
    config
        Head settings (``config.seconds`` is ignored in favour of ``seconds``, and
        ``config.balanced`` in favour of fitting both ways).

    Returns
    -------
    dict
        ``frames`` (scored), ``probs`` (per method of :data:`METHODS`), ``calibration``
        (per head-fitting method, the :class:`~rtdecode.calibration.CalibrationResult` as a
        dict).
    """
    assert prepared.reversal is not None
    full = np.full(prepared.n_frames, np.nan)
    full[frames] = shipped
    x = recording_head_features(prepared.features, prepared.valid, full)
    first = int(np.ceil(config.skip_s / prepared.frame_interval))
    end = int(np.ceil(seconds / prepared.frame_interval))
    rows = slice(first, end)
    scored = frames[frames >= end]
    probs = {"shipped": full[scored]}
    outcome = {}
    for method, balanced in (("calibrated", False), ("balanced", True)):
        setting = replace(config, balanced=balanced)
        result = fit_calibration(x[rows], prepared.reversal[rows], full[rows], setting)
        head: Head | None = result.head
        probs[method] = full[scored] if head is None else head.predict_many(x[scored])
        outcome[method] = result.as_dict()
    b = _baseline_features(prepared)
    baseline = fit_logistic(b[rows], prepared.reversal[rows], BASELINE_PENALTY)
    probs["baseline"] = sigmoid(b[scored] @ baseline[0] + baseline[1])
    return {"frames": scored, "probs": probs, "calibration": outcome}


def fused_probs(
    session: dict[str, Any],
    fused: tuple[np.ndarray, np.ndarray],
    prepared: Prepared,
    shipped: np.ndarray,
    config: CalibrationConfig,
) -> None:
    """Add the :data:`FUSED_METHODS` to a :func:`simulate_session` result, as live decides.

    Each method's output decides only when its calibration-period scores, out of sample,
    surely beat the shipped model's (:func:`~rtdecode.calibration._evidence.switch_evidence`,
    the calibrated head's rule); otherwise the session falls back to what decides without it
    (the ``calibrated`` method: the animal's head or the shipped model).

    Parameters
    ----------
    session
        The result to extend (``probs`` and ``calibration`` gain the methods).
    fused
        :func:`~rtdecode.calibration._fused_session.fused_session`'s outputs and period scores.
    prepared
        The recording.
    shipped
        ``(T,)`` the shipped model's probability per frame (NaN where none).
    config
        The evidence rule's settings.
    """
    assert prepared.reversal is not None
    outputs, period = fused
    frames = session["frames"]
    for method, part in zip(FUSED_METHODS, ("fused", DEFAULT_PART), strict=True):
        k = OUTPUTS.index(part)
        rows = np.isfinite(period[:, k])
        sure, why, _ = switch_evidence(
            prepared.reversal[rows],
            period[rows, k],
            shipped[rows],
            config.min_state_frames,
            config.level,
            config.margin,
        )
        session["probs"][method] = outputs[frames, k] if sure else session["probs"]["calibrated"]
        session["calibration"][method] = {"decides": sure, "reason": why}
