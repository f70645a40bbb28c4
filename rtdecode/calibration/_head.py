"""The per-animal head: its features, its fit on the calibration period, the head-or-shipped choice.

The head is a logistic regression on every neuron's running z-score and its time derivative at
the current frame, with or without the shipped model's logit. With the logit it is penalised
toward the shipped model: the neuron weights carry a strong L2 penalty and the logit a weak one,
so with little behaviour it reduces to the shipped model with its probabilities rescaled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rtdecode.calibration._evidence import switch_evidence
from rtdecode.calibration._logreg import fit_logistic, one_thread, sigmoid
from rtdecode.errors import ConfigError
from rtdecode.metrics import auroc

__all__ = [
    "CalibrationConfig",
    "CalibrationResult",
    "Head",
    "fit_calibration",
    "fit_state_head",
    "head_features",
    "recording_head_features",
]

_EPS = 1e-4
MAX_SECONDS = 3600.0
"""Longest calibration period (the live calibrator preallocates its frames)."""
_RATE = (0.02, 0.98)  # bounds of a reversal rate used for class weights
PRIOR = 0.21
"""Mean reversal fraction of the six recordings the shipped model was trained on (0.13-0.31)."""


@dataclass(frozen=True)
class CalibrationConfig:
    """How an animal's head is fit.

    Parameters
    ----------
    seconds
        Length of the calibration period.
    holdout
        Most recent fraction of the calibration frames held back to choose head or shipped.
    penalty
        L2 strength on the neuron weights (each input standardised over the fitting frames).
    shipped_penalty
        L2 strength on the weight of the shipped model's logit.
    use_shipped
        Also try a head given the shipped model's logit (fit on the frames the shipped model
        decoded); the head on the neurons alone is always tried.
    margin
        The head must beat the shipped model's held-back AUROC by more than this.
    skip_s
        Seconds at the start of a layout not used for fitting (the running z-score settles).
    blocks
        Consecutive blocks of the calibration period for cross-fitting the rescaling of the
        head's logit (its probabilities are then reliable out of sample).
    balanced
        Weight the two behaviour states equally when fitting (probabilities then assume a
        reversal rate of one half).
    prior
        Reversal rate the head's probabilities assume after calibration (not ``balanced``):
        its intercept is moved from the calibration period's own rate to this one (a fixed
        prior-shift correction, Saerens et al. 2002). Animals reverse less in their first
        minutes than later, so the calibration period's rate under-predicts what follows.
        Default :data:`PRIOR`, the training animals' mean; ``None`` keeps the period's rate.
    min_state_frames
        Frames of each behaviour state, scored out of sample over the period, needed to
        switch to the head (fewer: the shipped model stays, and the reason says to calibrate
        longer). After a switch, the
        live watch needs as many of each before it compares the heads again.
    level
        Coverage of the interval on the head's AUROC gain over the shipped model, on the
        period's frames each scored by the head refit on the other ``blocks`` (out of sample);
        the head is chosen only when the interval's low end clears ``margin``.
    """

    seconds: float = 180.0
    holdout: float = 0.25
    penalty: float = 30.0
    shipped_penalty: float = 0.1
    use_shipped: bool = True
    margin: float = 0.0
    skip_s: float = 10.0
    blocks: int = 4
    balanced: bool = False
    prior: float | None = PRIOR
    min_state_frames: int = 5
    level: float = 0.9

    def __post_init__(self) -> None:
        checks = {
            "seconds": 0 < self.seconds <= MAX_SECONDS,
            "holdout": 0 < self.holdout < 1,
            "penalty": self.penalty > 0,
            "shipped_penalty": self.shipped_penalty > 0,
            "skip_s": self.skip_s >= 0,
            "blocks": self.blocks >= 2,
            "prior": self.prior is None or _RATE[0] <= self.prior <= _RATE[1],
            "min_state_frames": self.min_state_frames >= 1,
            "level": 0 < self.level < 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(
                f"calibration settings out of range: {', '.join(bad)} (seconds in (0, "
                f"{MAX_SECONDS:.0f}], holdout in (0, 1), penalties > 0, skip_s >= 0, blocks >= 2, "
                f"prior in [{_RATE[0]}, {_RATE[1]}] or None, min_state_frames >= 1, level "
                "in (0, 1))"
            )


def head_features(
    frame: np.ndarray, valid: np.ndarray, shipped_prob: float, out: np.ndarray
) -> np.ndarray:
    """One frame's head features, written into ``out`` without allocating.

    Parameters
    ----------
    frame
        ``(n, F)`` the current frame's preprocessed features (the last row of the window):
        channel 0 is the running z-score, channel 1 its time derivative.
    valid
        ``(n,)`` whether each neuron's value is real (carried-forward values enter as 0).
    shipped_prob
        The shipped model's reversal probability for this frame (NaN when it has none yet).
    out
        ``(2 n + 1,)`` float64 buffer.

    Returns
    -------
    numpy.ndarray
        ``out``: ``[z(t), dz/dt(t), logit(shipped)]``.
    """
    n = frame.shape[0]
    np.multiply(frame[:, 0], valid, out=out[:n])
    np.multiply(frame[:, 1], valid, out=out[n : 2 * n])
    p = min(max(shipped_prob, _EPS), 1.0 - _EPS)
    out[2 * n] = np.log(p / (1.0 - p))
    return out


def recording_head_features(
    features: np.ndarray, valid: np.ndarray, shipped_probs: np.ndarray
) -> np.ndarray:
    """:func:`head_features` for every frame of a recording at once.

    Parameters
    ----------
    features
        ``(T, n, F)`` preprocessed features.
    valid
        ``(T, n)`` validity.
    shipped_probs
        ``(T,)`` shipped reversal probability per frame, NaN where the model had no window yet.

    Returns
    -------
    numpy.ndarray
        ``(T, 2 n + 1)`` float64.
    """
    z = np.where(valid, features[..., 0], 0.0).astype(np.float64)
    dz = np.where(valid, features[..., 1], 0.0).astype(np.float64)
    p = np.clip(np.asarray(shipped_probs, np.float64), _EPS, 1.0 - _EPS)
    return np.hstack([z, dz, np.log(p / (1.0 - p))[:, None]])


class Head:
    """A fitted per-animal head: ``sigmoid(features @ w + b)``.

    Parameters
    ----------
    weights
        ``(D,)`` weights on :func:`head_features`' layout.
    bias
        Intercept.
    """

    def __init__(self, weights: np.ndarray, bias: float) -> None:
        self.weights = np.ascontiguousarray(weights, np.float64)
        self.bias = float(bias)

    def predict(self, features: np.ndarray) -> float:
        """Reversal probability of one frame's features."""
        z = float(self.weights @ features) + self.bias
        return float(0.5 * (1.0 + np.tanh(0.5 * z)))

    def predict_many(self, features: np.ndarray) -> np.ndarray:
        """Reversal probabilities of ``(T, D)`` features."""
        return sigmoid(features @ self.weights + self.bias)


@dataclass
class CalibrationResult:
    """The outcome of a calibration.

    Attributes
    ----------
    head
        The fitted head when it was chosen, else ``None``.
    chosen
        ``"calibrated"`` (the head decodes from now on) or ``"shipped"``.
    head_score, shipped_score
        AUROC of the head (fit without the held-back part) and of the shipped model on the
        held-back most recent part of the calibration period (NaN when it has one class).
    frames, holdout_frames
        Calibration frames used, and how many of them were held back.
    reason
        Why this choice, in words (for the log and the session file).
    gain_interval
        The interval on ``head_score - shipped_score`` (see ``CalibrationConfig.level``),
        when it was computed.
    """

    head: Head | None
    chosen: str
    head_score: float
    shipped_score: float
    frames: int
    holdout_frames: int
    reason: str
    gain_interval: tuple[float, float] | None = None

    def as_dict(self, weights: bool = False) -> dict[str, object]:
        """JSON-ready summary; with ``weights``, also the head's (for ``--calibration-from``)."""
        out: dict[str, object] = {
            "chosen": self.chosen,
            "head_score": self.head_score,
            "shipped_score": self.shipped_score,
            "frames": self.frames,
            "holdout_frames": self.holdout_frames,
            "reason": self.reason,
            "gain_interval": None if self.gain_interval is None else list(self.gain_interval),
        }
        if weights and self.head is not None:
            out.update(weights=self.head.weights.tolist(), bias=self.head.bias)
        return out


def _fit(x: np.ndarray, y: np.ndarray, config: CalibrationConfig) -> Head:
    """Fit on the neuron inputs standardised over these frames (so one L2 strength suits the
    z-scores and their derivatives alike), folded back into the head's weights."""
    n = x.shape[1] - 1
    mean = np.append(x[:, :n].mean(axis=0), 0.0)
    scale = np.append(x[:, :n].std(axis=0), 1.0)
    scale[scale < 1e-6] = 1.0
    penalty = np.append(np.full(n, config.penalty), config.shipped_penalty)
    cols = slice(None) if config.use_shipped else slice(0, n)
    w, b = fit_logistic(
        ((x - mean) / scale)[:, cols],
        y,
        penalty[cols],
        _weights(y) if config.balanced else None,
    )
    w = np.append(w, 0.0) if not config.use_shipped else w
    w = w / scale
    return Head(w, b - float(mean @ w))


def _weights(y: np.ndarray) -> np.ndarray:
    """Sample weights that give both behaviour states the same total weight."""
    rate = min(max(float(y.mean()), _RATE[0]), _RATE[1])
    return np.where(y, 0.5 / rate, 0.5 / (1.0 - rate))


def _rescaled(x: np.ndarray, y: np.ndarray, config: CalibrationConfig) -> Head:
    """The head fit on every frame, its logit rescaled (Platt) to out-of-sample reliability.

    The rescaling is fit on cross-fitted logits: the frames are cut into ``config.blocks``
    consecutive blocks and each block's logits come from a head fit on the other blocks. Then
    the intercept moves to ``config.prior`` (see :func:`_shift_prior`).
    """
    head = _fit(x, y, config)
    logits = np.full(len(y), np.nan)
    for block in np.array_split(np.arange(len(y)), config.blocks):
        rest = np.ones(len(y), bool)
        rest[block] = False
        if y[rest].any() and not y[rest].all():
            trial = _fit(x[rest], y[rest], config)
            logits[block] = x[block] @ trial.weights + trial.bias
    ok = np.isfinite(logits)
    if not (y[ok].any() and not y[ok].all()):
        return _shift_prior(head, y, config)
    weight = _weights(y[ok]) if config.balanced else None
    (a,), c = fit_logistic(logits[ok, None], y[ok], 1e-3, weight)
    a = max(a, 0.0)
    return _shift_prior(Head(a * head.weights, a * head.bias + c), y[ok], config)


def crossfit_scores(
    x: np.ndarray, y: np.ndarray, head: Head | None, config: CalibrationConfig
) -> np.ndarray:
    """The calibration period's reversal probabilities, each block scored out of sample.

    What a live decoder can know at the period's end without scoring a frame with a head fit on
    it: the period is cut into ``config.blocks`` consecutive blocks and each block is scored by
    the head refit (and rescaled, as :func:`fit_calibration` does) on the other blocks. The
    budget threshold (``--false-per-min``) is set on these.

    Parameters
    ----------
    x
        ``(T, 2 n + 1)`` head features of the calibration frames (:func:`head_features`).
    y
        ``(T,)`` tracked reversal state.
    head
        The head calibration chose (its last weight says whether it uses the shipped logit);
        ``None``: no head (all NaN).
    config
        The calibration settings it was fit with.

    Returns
    -------
    numpy.ndarray
        ``(T,)`` probabilities; NaN for a row with a missing input or a block whose other
        blocks hold one behaviour state.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, bool)
    if head is None:
        return np.full(len(y), np.nan)
    return _crossfit(x, y, replace(config, use_shipped=bool(head.weights[-1] != 0.0)))


def _crossfit(x: np.ndarray, y: np.ndarray, setting: CalibrationConfig) -> np.ndarray:
    """:func:`crossfit_scores` for one head setting (``setting.use_shipped`` says which)."""
    out = np.full(len(y), np.nan)
    ok = np.isfinite(x).all(axis=1)
    for block in np.array_split(np.arange(len(y)), setting.blocks):
        rest = ok.copy()
        rest[block] = False
        if y[rest].any() and not y[rest].all():
            rows = block[ok[block]]
            out[rows] = _rescaled(x[rest], y[rest], setting).predict_many(x[rows])
    return out


def fit_state_head(x: np.ndarray, y: np.ndarray, config: CalibrationConfig) -> Head:
    """The head on the neurons alone fit on every given frame, with no choice against a shipped model.

    Parameters
    ----------
    x
        ``(T, D)`` :func:`head_features` rows (the last column, the shipped logit, is not used).
    y
        ``(T,)`` tracked reversal state with both states present.
    config
        Fit settings (``use_shipped`` is ignored).

    Returns
    -------
    Head
        Rescaled to reliable probabilities and moved to ``config.prior`` as in
        :func:`fit_calibration`.
    """
    return _rescaled(
        np.asarray(x, np.float64), np.asarray(y, bool), replace(config, use_shipped=False)
    )


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def _shift_prior(head: Head, y: np.ndarray, config: CalibrationConfig) -> Head:
    """The head with its probabilities moved from the reversal rate of ``y`` to ``config.prior``.

    Bayes' rule under a change of class prior only (the frames of each behaviour state look
    the same): the logit gains ``logit(prior) - logit(rate)``. Nothing for a ``balanced`` head.
    """
    if config.prior is None or config.balanced:
        return head
    rate = min(max(float(np.mean(y)), _RATE[0]), _RATE[1])
    return Head(head.weights, head.bias + _logit(config.prior) - _logit(rate))


def fit_calibration(
    features_over_time: np.ndarray,
    reversal: np.ndarray,
    shipped_probs: np.ndarray,
    config: CalibrationConfig,
) -> CalibrationResult:
    """Fit the head on the calibration period and choose it or the shipped model.

    The head is first fit on all but the most recent ``config.holdout`` of the frames and both
    are scored (AUROC) on that held-back part; the head is chosen only if it beats the shipped
    model there by more than ``config.margin``. The switch then needs evidence over the whole
    period: each block of ``config.blocks`` scored by the head refit on the others, at least
    ``config.min_state_frames`` of each state, and a ``config.level`` interval of the AUROC
    gain over the shipped model that clears ``config.margin``. The head is then refit on every
    frame. With
    ``config.use_shipped`` two heads compete, on the neurons alone and with the shipped logit
    (which helps when the shipped model is good, i.e. with identities, and hurts when it is
    near chance).

    Parameters
    ----------
    features_over_time
        ``(T, D)`` :func:`head_features` rows of the calibration period, oldest first (rows
        with non-finite neuron values are left out; frames before the shipped model's first
        prediction, NaN in ``shipped_probs``, serve only the head on the neurons alone).
    reversal
        ``(T,)`` tracked reversal state per row.
    shipped_probs
        ``(T,)`` the shipped model's reversal probability per row.
    config
        Fit settings.

    Returns
    -------
    CalibrationResult
    """
    with one_thread():
        return _fit_calibration(features_over_time, reversal, shipped_probs, config)


def _fit_calibration(
    features_over_time: np.ndarray,
    reversal: np.ndarray,
    shipped_probs: np.ndarray,
    config: CalibrationConfig,
) -> CalibrationResult:
    x = np.asarray(features_over_time, np.float64)
    rows = np.isfinite(x[:, :-1]).all(axis=1)
    x, y = x[rows].copy(), np.asarray(reversal, bool)[rows]
    shipped = np.asarray(shipped_probs, np.float64)[rows]
    has = np.isfinite(shipped) & np.isfinite(x[:, -1])  # frames the shipped model decoded
    x[~has, -1] = 0.0
    n = len(y)
    cut = n - round(config.holdout * n)
    held = (np.arange(n) >= cut) & has

    def result(head: Head | None, h: float, s: float, reason: str) -> CalibrationResult:
        chosen = "shipped" if head is None else "calibrated"
        return CalibrationResult(head, chosen, h, s, n, int(held.sum()), reason)

    def two_states(mask: np.ndarray) -> bool:
        return bool(y[mask].any() and not y[mask].all())

    if not two_states(np.arange(n) < cut):
        return result(None, float("nan"), float("nan"), "no reversal (or only) before hold-out")
    if not two_states(held):
        return result(None, float("nan"), float("nan"), "held-back part has one behaviour state")
    # Candidates: the head on the neurons alone (fit on every frame, also those before the
    # shipped model's first output) and, with use_shipped, with the shipped logit.
    scores = {}
    for candidate in {replace(config, use_shipped=False), config}:
        train = (np.arange(n) < cut) & (has if candidate.use_shipped else True)
        if two_states(train):
            trial = _fit(x[train], y[train], candidate)
            scores[candidate] = auroc(y[held], trial.predict_many(x[held]))
    if not scores:
        return result(None, float("nan"), float("nan"), "no reversal (or only) before hold-out")
    best = max(scores, key=lambda c: (scores[c], not c.use_shipped))
    head_score = scores[best]
    shipped_score = auroc(y[held], shipped[held])
    if not head_score > shipped_score + config.margin:
        return result(None, head_score, shipped_score, "head not better on held-back part")
    cross = _crossfit(x, y, best)  # evidence: the period out of sample (fit_calibration)
    cross[~has] = np.nan
    sure, why, interval = switch_evidence(
        y, cross, shipped, config.min_state_frames, config.level, config.margin
    )
    if not sure:
        outcome = result(
            None,
            head_score,
            shipped_score,
            why if interval is None else f"head better on held-back part, but {why}",
        )
        outcome.gain_interval = interval
        return outcome
    inputs = "neurons and shipped logit" if best.use_shipped else "neurons"
    keep = has if best.use_shipped else np.ones(n, bool)
    outcome = result(
        _rescaled(x[keep], y[keep], best),
        head_score,
        shipped_score,
        f"head ({inputs}) better on held-back part ({why})",
    )
    outcome.gain_interval = interval
    return outcome
