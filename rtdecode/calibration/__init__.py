"""Self-calibration of a new animal: a per-animal head, its choice over the shipped model,
reliable probabilities and abstention, and the simulated sessions ``rtdecode eval`` scores."""

from rtdecode.calibration._evaluate import calibrate_lowo, calibrate_model
from rtdecode.calibration._head import (
    CalibrationConfig,
    CalibrationResult,
    Head,
    fit_calibration,
    head_features,
    recording_head_features,
)
from rtdecode.calibration._reliability import expected_calibration_error

__all__ = [
    "CalibrationConfig",
    "CalibrationResult",
    "Head",
    "calibrate_lowo",
    "calibrate_model",
    "expected_calibration_error",
    "fit_calibration",
    "head_features",
    "recording_head_features",
]
