"""Self-calibration of a new animal: a per-animal head, its choice over the shipped model,
reliable probabilities and abstention, and the simulated sessions ``rtdecode eval`` scores.

The live parts (:class:`Calibrator`, :class:`Head`, :func:`head_features`) do not import torch;
:func:`calibrate_lowo`, :func:`calibrate_model` and :func:`earlier_head` (which run the
network) are imported on first use.
"""

from typing import Any

from rtdecode.calibration._head import (
    CalibrationConfig,
    CalibrationResult,
    Head,
    fit_calibration,
    head_features,
    recording_head_features,
)
from rtdecode.calibration._live import Calibrator
from rtdecode.calibration._reliability import expected_calibration_error

__all__ = [
    "CalibrationConfig",
    "CalibrationResult",
    "Calibrator",
    "Head",
    "calibrate_lowo",
    "calibrate_model",
    "earlier_head",
    "expected_calibration_error",
    "fit_calibration",
    "head_features",
    "recording_head_features",
]

_LAZY = {
    "calibrate_lowo": "rtdecode.calibration._evaluate",
    "calibrate_model": "rtdecode.calibration._evaluate",
    "earlier_head": "rtdecode.calibration._earlier",
}


def __getattr__(name: str) -> Any:
    """Import the torch-dependent functions on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rtdecode.calibration' has no attribute {name!r}")
