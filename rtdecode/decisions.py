"""A recording's trigger decisions in a file other programs can rescore.

``rtdecode eval --save-predictions DIR`` writes ``DIR/<recording id>.npz`` (and other methods'
``DIR/<recording id>.<method>.npz``) with, over every frame of the recording:

``t``
    frame times in seconds from the recording's first frame;
``p``
    the reversal probability the trigger policy saw (NaN on frames it did not see: before the
    decoder's window filled, or during calibration);
``uncertain``
    0/1, the decoder abstained on the frame;
``fire_t``
    the times the policy fired, seconds on the clock of ``t``;
``reversal``
    the 0/1 behaviour label per frame;
``scored_from_s``
    where scoring starts (the first frame the policy saw).

:func:`rescore` scores such a file with :func:`rtdecode.events.score_fires`, exactly as
``rtdecode eval`` did; a method may store more arrays beside these (the velocity baseline keeps
``velocity`` and ``threshold``).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.errors import DataFormatError
from rtdecode.events import WINDOWS_S, EventScore, score_fires

__all__ = ["Decisions", "load_decisions", "rescore", "save_decisions"]

_KEYS = ("t", "p", "uncertain", "fire_t", "reversal", "scored_from_s")


@dataclass(frozen=True)
class Decisions:
    """One recording's decisions (the fields as the module notes describe them).

    Attributes
    ----------
    extra
        Any further arrays the method kept.
    """

    t: np.ndarray
    p: np.ndarray
    uncertain: np.ndarray
    fire_t: np.ndarray
    reversal: np.ndarray
    scored_from_s: float
    extra: dict[str, np.ndarray]

    def score(self, windows_s: tuple[float, ...] = WINDOWS_S) -> EventScore:
        """The fires scored against the label (:func:`rtdecode.events.score_fires`)."""
        return score_fires(self.fire_t, self.t, self.reversal, self.scored_from_s, windows_s)


def save_decisions(
    path: Path | str,
    t: np.ndarray,
    p: np.ndarray,
    uncertain: np.ndarray,
    fire_t: np.ndarray,
    reversal: np.ndarray,
    scored_from_s: float,
    **extra: Any,
) -> Path:
    """Write one recording's decisions (arguments as the module notes describe the keys).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    n = len(t)
    for name, column in (("p", p), ("uncertain", uncertain), ("reversal", reversal)):
        if len(column) != n:
            raise ValueError(f"{name} has {len(column)} values for {n} frame times")
    arrays: dict[str, Any] = {k: np.asarray(v) for k, v in extra.items()}
    arrays.update(
        t=np.asarray(t, np.float64),
        p=np.asarray(p, np.float32),
        uncertain=np.asarray(uncertain, np.uint8),
        fire_t=np.asarray(fire_t, np.float64),
        reversal=np.asarray(reversal, np.uint8),
        scored_from_s=np.float64(scored_from_s),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def load_decisions(path: Path | str) -> Decisions:
    """Read a file written by :func:`save_decisions`.

    Raises
    ------
    DataFormatError
        When the file cannot be read or lacks one of the keys.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataFormatError(f"cannot read decisions file {path} ({exc})") from exc
    missing = [k for k in _KEYS if k not in arrays]
    if missing:
        raise DataFormatError(
            f"{path} lacks {', '.join(missing)}: not a decisions file of "
            "'rtdecode eval --save-predictions'"
        )
    return Decisions(
        t=arrays.pop("t"),
        p=arrays.pop("p"),
        uncertain=arrays.pop("uncertain").astype(bool),
        fire_t=arrays.pop("fire_t"),
        reversal=arrays.pop("reversal").astype(bool),
        scored_from_s=float(arrays.pop("scored_from_s")),
        extra=arrays,
    )


def rescore(path: Path | str, windows_s: tuple[float, ...] = WINDOWS_S) -> EventScore:
    """Score a decisions file's fires against its label, as ``rtdecode eval`` scored them.

    Parameters
    ----------
    path
        A file written by ``rtdecode eval --save-predictions``.
    windows_s
        Window lengths after an onset (default: the reported 1.2 s and 2.4 s).

    Returns
    -------
    EventScore
        ``.as_dict()`` gives the keys ``rtdecode eval`` reports per recording.
    """
    return load_decisions(path).score(windows_s)
