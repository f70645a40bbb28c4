"""``--calibration-from``: an animal's head from an earlier session file or recording of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtdecode.calibration._head import (
    CalibrationConfig,
    Head,
    fit_calibration,
    recording_head_features,
)
from rtdecode.data import load_recording
from rtdecode.errors import ConfigError
from rtdecode.models import ModelFile
from rtdecode.stream import is_session_file, read_session
from rtdecode.training import predict_recording, prepare_recording

__all__ = ["earlier_head"]


def _session_head(path: Path) -> Head:
    """The head a calibrated session kept (its ``calibration`` attribute)."""
    saved = read_session(path, tables=()).calibration
    if saved is None:
        raise ConfigError(
            f"{path}: this session file holds no calibration; use a session that ran with "
            "--calibrate, or the session's recording"
        )
    if "weights" not in saved:
        raise ConfigError(
            f"{path}: that session kept the shipped model ({saved.get('reason', 'no reason')}); "
            "calibrate afresh"
        )
    return Head(np.asarray(saved["weights"]), float(saved["bias"]))


def earlier_head(
    path: Path | str, model: ModelFile, config: CalibrationConfig, use_labels: bool = False
) -> Head:
    """The head of an earlier session of the same animal.

    Parameters
    ----------
    path
        A session file (its ``calibration`` attribute holds the head) or a recording with
        behaviour (the head is fit on all of it, exactly as a live calibration would be).
    model
        The shipped model (its outputs are the head's input when fitting on a recording).
    config
        Calibration settings. Its ``prior`` applies to a head fit on a recording too; a whole
        earlier recording's own reversal rate may suit the animal better (``prior=None``).
    use_labels
        Decode the recording with its neuron identities.

    Raises
    ------
    ConfigError
        When the file holds no usable head or no behaviour, or the head was not chosen.
    """
    path = Path(path)
    if path.suffix in (".h5", ".hdf5") and is_session_file(path):
        return _session_head(path)
    recording = load_recording(path)
    if recording.reversal is None:
        raise ConfigError(f"{path}: no behaviour (reversal) to calibrate on")
    prepared = prepare_recording(recording, model.preprocess)
    frames, probs = predict_recording(model, model.build(), prepared, use_labels=use_labels)
    shipped = np.full(prepared.n_frames, np.nan)
    shipped[frames] = probs
    x = recording_head_features(prepared.features, prepared.valid, shipped)
    result = fit_calibration(x, recording.reversal, shipped, config)
    if result.head is None:
        raise ConfigError(
            f"{path}: the head fit on this recording is not better than the shipped model "
            f"({result.reason}); calibrate afresh"
        )
    return result.head
