"""The fused decision offline as a live session would run it: a recording calibrated on its
first seconds, the calibration period scored out of sample for the evidence rule.

Used by ``rtdecode eval --calibrate`` (:func:`fused_session`); the period's scores come from
:meth:`AnimalDecoder.crossfit`, as the live calibrator's do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rtdecode.calibration._decision import AnimalDecoder, CrossModel
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


def crossfit_period(decoder: AnimalDecoder, animal: Animal, rows: np.ndarray) -> np.ndarray:
    """The calibration period's ``rows`` of ``animal`` scored out of sample by ``decoder``
    (:meth:`AnimalDecoder.crossfit` with the live calibrator's blocks), one thread."""
    with one_thread():
        return decoder.crossfit(
            animal.features,
            animal.valid,
            animal.reversal,
            rows,
            animal.frame_interval,
            CalibrationConfig().blocks,
            animal.velocity,
        )


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
        (:meth:`AnimalDecoder.crossfit`, ``CalibrationConfig().blocks`` blocks).
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
    period[rows] = crossfit_period(decoder, a, rows)
    return outputs, period
