"""The fused decision offline as a live session would run it: a recording calibrated on its
first seconds, the calibration period scored out of sample for the evidence rule.

Used by ``rtdecode eval --calibrate`` (:func:`fused_session`) and the trigger study's scores
(``tools/trigger_scores.py``: :func:`crossfit_period`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rtdecode.calibration._decision import COMPONENTS, AnimalDecoder, CrossModel
from rtdecode.calibration._head import CalibrationConfig
from rtdecode.calibration._logreg import one_thread
from rtdecode.calibration._scores import Animal, ScoreConfig, fold_decoder
from rtdecode.training._dataset import Prepared

__all__ = ["as_animal", "crossfit_period", "fused_session"]


def as_animal(prepared: Prepared) -> Animal:
    """A recording prepared for training (with behaviour) as an :class:`Animal` (no copy)."""
    if prepared.reversal is None:
        raise ValueError(f"{prepared.id} has no tracked behaviour to calibrate on")
    return Animal(
        prepared.id,
        prepared.times,
        prepared.features,
        prepared.valid,
        prepared.reversal,
        prepared.velocity,
        prepared.labels,
        prepared.frame_interval,
    )


def crossfit_period(
    decoder: AnimalDecoder, animal: Animal, rows: np.ndarray, blocks: int
) -> np.ndarray:
    """Out-of-sample scores of the calibration period: what a live decoder can know at its end.

    The period (``rows``, frame indices, contiguous) is cut into ``blocks`` consecutive blocks;
    each block is scored by the animal's part calibrated on the other blocks (the cross-animal
    part as ``decoder`` has it, velocity fused when it fuses it). A block whose other blocks
    lack a behaviour state is NaN.

    Returns
    -------
    numpy.ndarray
        ``(len(rows), len(COMPONENTS) + 1)`` probabilities, as :meth:`AnimalDecoder.recording`.
    """
    out = np.full((len(rows), len(COMPONENTS) + 1), np.nan)
    labels = animal.labels if decoder.model.names else None
    with one_thread():
        for block in np.array_split(np.arange(len(rows)), blocks):
            rest = np.setdiff1d(rows, rows[block])
            y = animal.reversal[rest]
            if not (y.any() and not y.all()):
                continue
            part = AnimalDecoder(decoder.model, labels, decoder.fuse_behavior)
            velocity = None if animal.velocity is None else animal.velocity[rest]
            part.calibrate(
                animal.features[rest], animal.valid[rest], y, animal.frame_interval, velocity
            )
            scores = part.recording(animal.features, animal.valid, animal.velocity)
            out[block] = scores[rows[block]]
    return out


def fused_session(
    animals: Sequence[Animal], held_out: int, seconds: float, cross: CrossModel | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The fused decision's outputs on every frame of ``animals[held_out]`` after calibrating on
    its first ``seconds`` (from ``ScoreConfig.skip_s``), as a live session would decide, and
    the calibration period's out-of-sample outputs its evidence rule judges.

    Parameters
    ----------
    animals
        Recordings with behaviour.
    held_out
        The scored animal.
    seconds
        Calibration length.
    cross
        The cross-animal part to use (e.g. the shipped one); ``None``: fit on the other
        animals, every choice nested (:func:`fold_decoder`).

    Returns
    -------
    outputs, period
        ``(T, len(OUTPUTS))`` probabilities (:data:`~rtdecode.calibration.OUTPUTS` order) on
        every frame, and the same shape NaN but on the calibration frames, scored out of sample
        (:func:`crossfit_period`, ``CalibrationConfig().blocks`` blocks).
    """
    config = ScoreConfig(calibration_s=seconds)
    a = animals[held_out]
    rows = np.flatnonzero((a.t >= config.skip_s) & (a.t < seconds))
    if cross is None:
        decoder, _ = fold_decoder(animals, held_out, False, config)
    else:
        decoder = AnimalDecoder(cross)
        with one_thread():
            decoder.calibrate(a.features[rows], a.valid[rows], a.reversal[rows], a.frame_interval)
    outputs = decoder.recording(a.features, a.valid)
    period = np.full_like(outputs, np.nan)
    period[rows] = crossfit_period(decoder, a, rows, CalibrationConfig().blocks)
    return outputs, period
