"""Evidence for a change of head: enough frames of each behaviour state, an interval that
clears the other model, and a watch that keeps comparing both heads after the switch.

Consecutive frames are strongly correlated (a reversal lasts several frames), so the interval
comes from a paired moving-block bootstrap (Kuensch 1989): blocks of consecutive held-back
frames are resampled, and both models are scored on the same resample.
"""

from __future__ import annotations

import numpy as np

from rtdecode.log import get_logger
from rtdecode.metrics import auroc

__all__ = [
    "HeadWatch",
    "auroc_gain_interval",
    "balanced_accuracy",
    "state_counts",
    "switch_evidence",
]

_log = get_logger(__name__)


def state_counts(y: np.ndarray) -> tuple[int, int]:
    """Frames of each state: (reversal, forward)."""
    y = np.asarray(y, bool)
    return int(y.sum()), int((~y).sum())


def balanced_accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """Mean of the two states' recalls of the decision ``p >= 0.5`` (NaN with one state)."""
    y = np.asarray(y, bool)
    decided = np.asarray(p) >= 0.5
    if y.all() or not y.any():
        return float("nan")
    return 0.5 * (float(decided[y].mean()) + float((~decided[~y]).mean()))


def auroc_gain_interval(
    y: np.ndarray,
    head: np.ndarray,
    shipped: np.ndarray,
    level: float = 0.9,
    block: int = 5,
    resamples: int = 400,
    seed: int = 0,
) -> tuple[float, float]:
    """Two-sided ``level`` interval of ``AUROC(head) - AUROC(shipped)`` on the same frames.

    Parameters
    ----------
    y
        ``(T,)`` behaviour state per frame (True: reversal), oldest first.
    head, shipped
        ``(T,)`` the two models' reversal probabilities on those frames.
    level
        Coverage of the interval.
    block
        Consecutive frames per resampled block.
    resamples
        Bootstrap resamples (a resample with one state only is drawn again, up to twice as
        many draws in all).
    seed
        Seed of the resampling (the choice is reproducible).

    Returns
    -------
    tuple of float
        (low, high); NaN, NaN when fewer than 20 resamples had both states.
    """
    y = np.asarray(y, bool)
    n = len(y)
    block = max(1, min(block, n))
    rng = np.random.default_rng(seed)
    starts = np.arange(n - block + 1)
    per = -(-n // block)
    gains: list[float] = []
    for _ in range(2 * resamples):
        if len(gains) == resamples:
            break
        index = (rng.choice(starts, per)[:, None] + np.arange(block)).ravel()[:n]
        truth = y[index]
        if truth.all() or not truth.any():
            continue
        gains.append(auroc(truth, head[index]) - auroc(truth, shipped[index]))
    if len(gains) < 20:
        return float("nan"), float("nan")
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(gains, [tail, 100.0 - tail])
    return float(low), float(high)


def switch_evidence(
    y: np.ndarray,
    head: np.ndarray,
    shipped: np.ndarray,
    min_state_frames: int,
    level: float,
    margin: float,
) -> tuple[bool, str, tuple[float, float] | None]:
    """Whether a head's out-of-sample scores of the calibration period surely beat the
    shipped model's: ``min_state_frames`` of each state among the frames both scored, and a
    ``level`` interval of the AUROC gain (:func:`auroc_gain_interval`) whose low end clears
    ``margin``.

    Returns
    -------
    switch, why, interval
        The verdict, the reason in words, and the interval (``None`` when too few frames).
    """
    seen = np.isfinite(head) & np.isfinite(shipped)
    reversals, forwards = state_counts(y[seen])
    if min(reversals, forwards) < min_state_frames:
        return (
            False,
            f"too little evidence to switch: the period's out-of-sample frames hold {reversals} "
            f"reversal and {forwards} forward frames, {min_state_frames} of each are needed "
            "(calibrate longer)",
            None,
        )
    low, high = auroc_gain_interval(y[seen], head[seen], shipped[seen], level)
    interval = (
        f"{level:.0%} interval of the AUROC gain over the period, scored out of sample "
        f"[{low:+.3f}, {high:+.3f}]"
    )
    if not low > margin:
        return False, f"not surely better: {interval} does not clear {margin:g}", (low, high)
    return True, interval, (low, high)


class HeadWatch:
    """After a switch to the calibrated head: keeps scoring both heads on the behaviour that
    keeps arriving, and says when the shipped model is better.

    Holds the latest ``capacity`` frames with a behaviour target (preallocated rings). Every
    ``check_every`` new frames, once the rings hold ``min_state_frames`` of each state, it
    compares the balanced accuracy of the two heads' decisions (what a user gets: the decoded
    state); the shipped model wins when it is better by more than ``margin``.

    Parameters
    ----------
    capacity
        Most recent labelled frames compared.
    min_state_frames
        Frames of each state needed before comparing.
    margin
        Balanced-accuracy lead the shipped model needs.
    check_every
        Labelled frames between two comparisons.

    Attributes
    ----------
    reason
        Why the shipped model was found better (``None`` while the head holds).
    compared
        Comparisons made so far.
    """

    def __init__(
        self,
        capacity: int,
        min_state_frames: int,
        margin: float = 0.05,
        check_every: int = 25,
    ) -> None:
        self._y = np.zeros(capacity, bool)
        self._head = np.zeros(capacity)
        self._shipped = np.zeros(capacity)
        self._count = 0
        self._since = 0
        self.min_state_frames = min_state_frames
        self.margin = margin
        self.check_every = check_every
        self.reason: str | None = None
        self.compared = 0

    def add(self, head_prob: float, shipped_prob: float, reversal: bool) -> bool:
        """Keep one labelled frame; return True when the shipped model has just won."""
        if self.reason is not None:
            return False
        i = self._count % len(self._y)
        self._y[i], self._head[i], self._shipped[i] = reversal, head_prob, shipped_prob
        self._count += 1
        self._since += 1
        if self._since < self.check_every:
            return False
        self._since = 0
        return self._compare()

    def _compare(self) -> bool:
        n = min(self._count, len(self._y))
        y, head, shipped = self._y[:n], self._head[:n], self._shipped[:n]
        reversals, forwards = state_counts(y)
        if min(reversals, forwards) < self.min_state_frames:
            return False
        self.compared += 1
        ba_head, ba_shipped = balanced_accuracy(y, head), balanced_accuracy(y, shipped)
        if not ba_shipped > ba_head + self.margin:
            return False
        self.reason = (
            f"on the {n} latest frames with behaviour ({reversals} reversal, {forwards} "
            f"forward) the shipped model decoded better: balanced accuracy {ba_shipped:.3f} "
            f"against the head's {ba_head:.3f} (AUROC {auroc(y, shipped):.3f} against "
            f"{auroc(y, head):.3f})"
        )
        return True
