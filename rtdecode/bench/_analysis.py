"""Turn raw time stamps (producer sends, decoder stages, consumer receives) into latencies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtdecode.latency import percentiles

__all__ = [
    "STAGES",
    "Phase",
    "backlog_trend",
    "decoder_counts",
    "quarter_medians",
    "stage_latencies",
]

STAGES: tuple[str, ...] = ("receive", "preprocess", "inference", "publish")
"""Consecutive stages of one frame's trip; their latencies add up to the end-to-end latency.

receive: producer send -> decoder receive (the ZMQ hop in, plus any wait in the queue);
preprocess: -> window and preprocessing done; inference: -> engine output; publish: -> the
consumer has the prediction (encoding, every sink, and the ZMQ hop out). The decoder stamps
``published_ns`` after all its sinks, so the hop out is not separable from its side.
"""


@dataclass(frozen=True)
class Phase:
    """One stretch of frames streamed at one rate, and what came back for them.

    Parameters
    ----------
    first_seq
        Sequence number of the first frame sent in the phase.
    send_ns
        Producer send time of frame ``first_seq + i`` at index ``i``.
    recv_seq, recv_ns
        Sequence numbers and receive times of the messages the consumer got (any order, any
        range; duplicates and messages outside the phase are ignored).
    """

    first_seq: int
    send_ns: np.ndarray
    recv_seq: np.ndarray
    recv_ns: np.ndarray

    @property
    def sent(self) -> int:
        """Frames sent in the phase."""
        return int(self.send_ns.size)

    def matched(self) -> tuple[np.ndarray, np.ndarray]:
        """Sequence numbers that came back (first arrival of each, in seq order) and their times."""
        inside = (self.recv_seq >= self.first_seq) & (self.recv_seq < self.first_seq + self.sent)
        seqs, first_index = np.unique(self.recv_seq[inside], return_index=True)
        return seqs, self.recv_ns[inside][first_index]

    def latencies_ns(self) -> np.ndarray:
        """Send -> receive latency of every frame that came back, in seq order."""
        seqs, received = self.matched()
        return received - self.send_ns[seqs - self.first_seq]

    def achieved_rate_hz(self) -> float:
        """The rate the producer really sent at over the phase."""
        if self.sent < 2:
            return 0.0
        return float((self.sent - 1) / ((self.send_ns[-1] - self.send_ns[0]) / 1e9))


def stage_latencies(phase: Phase, timings: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-stage latencies of the phase's frames from the decoder's session timing table.

    Parameters
    ----------
    phase
        The phase, with prediction receive times.
    timings
        Columns ``seq, recv_ns, preprocessed_ns, inferred_ns, published_ns`` of the session file.

    Returns
    -------
    dict
        ``{stage: int64 ns}`` for every name in :data:`STAGES`, plus ``"decoder"`` (receive ->
        published to every sink, the decoder's own view), over the frames that were decoded and
        whose prediction arrived, so the stages of a frame add up to its end-to-end latency.
    """
    seq = timings["seq"]
    rows = (seq >= phase.first_seq) & (seq < phase.first_seq + phase.sent)
    row_seq, first_row = np.unique(seq[rows], return_index=True)
    cols = {name: timings[name][rows][first_row] for name in timings if name != "seq"}
    pred_seq, pred_ns = phase.matched()
    done = (cols["recv_ns"] > 0) & (cols["published_ns"] > 0) & np.isin(row_seq, pred_seq)
    recv, pre, inf, pub = (
        cols[name][done] for name in ("recv_ns", "preprocessed_ns", "inferred_ns", "published_ns")
    )
    sent = phase.send_ns[row_seq[done] - phase.first_seq]
    arrived = pred_ns[np.searchsorted(pred_seq, row_seq[done])]
    return {
        "receive": recv - sent,
        "preprocess": pre - recv,
        "inference": inf - pre,
        "publish": arrived - inf,
        "decoder": pub - recv,
    }


def decoder_counts(phase: Phase, timings: dict[str, np.ndarray]) -> tuple[int, int]:
    """Frames of the phase the decoder received, and how many of those it did not decode.

    Parameters
    ----------
    phase
        The phase (its sequence numbers).
    timings
        Columns of the session file's frame table (``seq`` and ``published_ns``, which is
        negative for a frame that was not decoded: skipped, or its window still filling).

    Returns
    -------
    received, not_decoded : int
    """
    seq = timings["seq"]
    rows = (seq >= phase.first_seq) & (seq < phase.first_seq + phase.sent)
    row_seq, first_row = np.unique(seq[rows], return_index=True)
    published = timings["published_ns"][rows][first_row]
    return int(row_seq.size), int(np.count_nonzero(published < 0))


def quarter_medians(latencies_ns: np.ndarray) -> tuple[float, float]:
    """Median latency (ns, nearest rank) of the first and of the last quarter of a phase.

    NaN under 8 samples.
    """
    if latencies_ns.size < 8:
        return float("nan"), float("nan")
    quarter = latencies_ns.size // 4
    (first,) = percentiles(latencies_ns[:quarter], [50.0])
    (last,) = percentiles(latencies_ns[-quarter:], [50.0])
    return float(first), float(last)


def backlog_trend(latencies_ns: np.ndarray) -> float:
    """Median latency of the last quarter over that of the first quarter (1.0 = steady).

    A decoder that keeps up holds this near 1; a backlog that grows through the phase drives it
    up. ``nan`` with fewer than 8 samples.
    """
    first, last = quarter_medians(latencies_ns)
    if np.isnan(first):
        return float("nan")
    return last / first if first > 0 else float("inf")
