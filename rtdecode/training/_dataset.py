"""Recordings turned into model inputs: causal features once per recording, windows on demand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtdecode.data import Recording
from rtdecode.preprocess import PreprocessConfig, preprocess_traces, resample_plan

__all__ = ["Prepared", "prepare_recording", "stream_window", "windows"]

MIN_FRAME_INTERVAL_S = 0.3  # fastest rig the engine window is sized for


@dataclass(frozen=True, eq=False)
class Prepared:
    """One recording's causal features and targets.

    Parameters
    ----------
    id
        Recording id.
    features
        ``(T, N, F)`` float32 from :func:`rtdecode.preprocess.preprocess_traces`.
    valid
        ``(T, N)`` bool.
    reversal
        ``(T,)`` bool target, or ``None`` when behaviour was not tracked.
    labels
        Neuron names (or ``None``) per column.
    frame_interval
        Median seconds between frames.
    role
        ``(N,)`` float32 correlation of each neuron's z-score with reversal over the whole
        recording: the auxiliary training target (never an input).
    t
        ``(T,)`` frame times in seconds from the first frame (``None``: evenly spaced at
        ``frame_interval``).
    velocity
        ``(T,)`` tracked velocity in mm/s, forward positive, or ``None`` when not tracked.
    """

    id: str
    features: np.ndarray
    valid: np.ndarray
    reversal: np.ndarray | None
    labels: tuple[str | None, ...]
    frame_interval: float
    role: np.ndarray
    t: np.ndarray | None = None
    velocity: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        """Frames (T)."""
        return int(self.features.shape[0])

    @property
    def times(self) -> np.ndarray:
        """``(T,)`` frame times in seconds from the first frame."""
        if self.t is not None:
            return self.t
        return np.arange(self.n_frames) * self.frame_interval


def prepare_recording(recording: Recording, config: PreprocessConfig) -> Prepared:
    """Preprocess a recording exactly as the live path would and compute its targets."""
    features, valid = preprocess_traces(recording.traces, recording.timestamps, config)
    role = np.zeros(recording.n_neurons, np.float32)
    if recording.reversal is not None and recording.reversal.any() and not recording.reversal.all():
        z = np.where(valid, features[..., 0], 0.0).astype(np.float64)
        z = z - z.mean(axis=0)
        r = recording.reversal.astype(np.float64) - recording.reversal.mean()
        denom = np.sqrt((z * z).sum(axis=0) * (r * r).sum()) + 1e-9
        role = ((r @ z) / denom).astype(np.float32)
    interval = recording.frame_interval
    return Prepared(
        id=recording.id,
        features=features,
        valid=valid,
        reversal=recording.reversal,
        labels=recording.labels,
        frame_interval=interval if np.isfinite(interval) else 0.6,
        role=role,
        t=recording.timestamps - recording.timestamps[0],
        velocity=recording.velocity,
    )


def stream_window(model_window: int, model_interval: float) -> int:
    """Stream frames an engine keeps so the model's span is covered down to 0.3 s/frame."""
    return int(np.ceil((model_window - 1) * model_interval / MIN_FRAME_INTERVAL_S)) + 1


def windows(
    prepared: Prepared,
    ends: np.ndarray,
    window: int,
    model_window: int,
    model_interval: float,
    neurons: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs for the windows ending at frames ``ends``, as an engine would build them.

    Each window holds the ``window`` stream frames up to and including its end frame (frames
    before the start of the recording are invalid) and is mapped to the model grid with the
    same interpolation plan as :class:`rtdecode.engines._adapter.WindowAdapter`.

    Returns
    -------
    x, valid
        ``(B, model_window, n, F)`` float32 and ``(B, model_window, n)`` float32.
    """
    lo, hi, weight, inside = resample_plan(
        window, model_window, model_interval, prepared.frame_interval
    )
    feats = prepared.features if neurons is None else prepared.features[:, neurons]
    ok = prepared.valid if neurons is None else prepared.valid[:, neurons]
    start = ends[:, None] - (window - 1)
    idx_lo, idx_hi = start + lo[None], start + hi[None]
    real = (idx_lo >= 0) & inside[None]
    idx_lo, idx_hi = np.clip(idx_lo, 0, None), np.clip(idx_hi, 0, None)
    w = weight[None, :, None, None]
    x = feats[idx_lo] * (1.0 - w) + feats[idx_hi] * w
    v = ok[idx_lo] & ok[idx_hi] & real[..., None]
    x = np.where(real[..., None, None], x, 0.0)
    return x.astype(np.float32), v.astype(np.float32)
