"""Self-calibration of a new animal: a per-animal head, its choice over the shipped model,
reliable probabilities and abstention, and the simulated sessions ``rtdecode eval`` scores.

The live parts (:class:`Calibrator`, :class:`Head`, :func:`head_features`, the fused decision's
:class:`AnimalDecoder`, :class:`CrossModel` and role pooling) do not import torch;
:func:`calibrate_lowo`, :func:`calibrate_model` and :func:`earlier_head` (which run the
network) and the offline nested scoring (:func:`fold_scores`, :func:`load_animals`) are imported
on first use.
"""

from typing import Any

from rtdecode.calibration._crossfile import load_cross_model, save_cross_model, shipped_cross_model
from rtdecode.calibration._decision import (
    COMPONENTS,
    DEFAULT_PART,
    OUTPUTS,
    AnimalDecoder,
    CrossModel,
)
from rtdecode.calibration._head import (
    CalibrationConfig,
    CalibrationResult,
    Head,
    fit_calibration,
    head_features,
    recording_head_features,
)
from rtdecode.calibration._live import Calibrator
from rtdecode.calibration._onset import onset_target
from rtdecode.calibration._reliability import expected_calibration_error
from rtdecode.calibration._roles import RoleConfig, RolePooler, calibration_roles, neuron_roles

__all__ = [
    "COMPONENTS",
    "DEFAULT_PART",
    "OUTPUTS",
    "AnimalDecoder",
    "CalibrationConfig",
    "CalibrationResult",
    "Calibrator",
    "CrossModel",
    "FoldScores",
    "Head",
    "RoleConfig",
    "RolePooler",
    "ScoreConfig",
    "calibrate_lowo",
    "calibrate_model",
    "calibration_roles",
    "earlier_head",
    "expected_calibration_error",
    "fit_calibration",
    "fit_cross_model",
    "fold_scores",
    "head_features",
    "load_animals",
    "load_cross_model",
    "neuron_roles",
    "onset_target",
    "recording_head_features",
    "save_cross_model",
    "shipped_cross_model",
]

_LAZY = {
    "calibrate_lowo": "rtdecode.calibration._evaluate",
    "calibrate_model": "rtdecode.calibration._evaluate",
    "earlier_head": "rtdecode.calibration._earlier",
    "FoldScores": "rtdecode.calibration._scores",
    "ScoreConfig": "rtdecode.calibration._scores",
    "fold_scores": "rtdecode.calibration._scores",
    "fit_cross_model": "rtdecode.calibration._scores",
    "load_animals": "rtdecode.calibration._scores",
}


def __getattr__(name: str) -> Any:
    """Import the torch-dependent functions on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rtdecode.calibration' has no attribute {name!r}")
