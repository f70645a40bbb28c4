"""Every recording in a folder, loaded and preprocessed for training or evaluation."""

from __future__ import annotations

from pathlib import Path

from rtdecode.config import PreprocessConfig
from rtdecode.data import discover_recordings, load_recording
from rtdecode.errors import DataFormatError
from rtdecode.training._dataset import Prepared, prepare_recording

__all__ = ["prepare_folder"]


def prepare_folder(
    folder: Path | str, config: PreprocessConfig, need_behaviour: bool
) -> list[Prepared]:
    """Load and preprocess every recording in ``folder`` (sorted by file name).

    Raises
    ------
    DataFormatError
        If ``need_behaviour`` and a recording has no reversal labels.
    """
    prepared = []
    for path in discover_recordings(folder):
        recording = load_recording(path)
        if need_behaviour and recording.reversal is None:
            raise DataFormatError(
                f"{path}: no behaviour (reversal) labels, so it cannot be used for training or "
                "LOWO; move it out of the folder, or evaluate a trained model on it with "
                "'rtdecode eval --model MODEL'"
            )
        prepared.append(prepare_recording(recording, config))
    return prepared
