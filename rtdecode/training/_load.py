"""Every recording in a folder, loaded and preprocessed for training or evaluation."""

from __future__ import annotations

from pathlib import Path

from rtdecode.data import discover_recordings, load_recording
from rtdecode.errors import DataFormatError, RtdecodeError
from rtdecode.preprocess import PreprocessConfig
from rtdecode.training._dataset import Prepared, prepare_recording

__all__ = ["prepare_folder", "prepare_readable"]


def prepare_readable(
    folder: Path | str, config: PreprocessConfig, need_behaviour: bool
) -> tuple[list[Prepared], list[dict[str, str]]]:
    """Load and preprocess every recording in ``folder`` that can be read (sorted by name).

    Returns
    -------
    prepared, unreadable
        The recordings, and ``{"path", "error"}`` for each file that could not be used
        (unreadable, or without behaviour when ``need_behaviour``).

    Raises
    ------
    DataFormatError
        If the folder does not exist or holds no recording file.
    """
    prepared, unreadable = [], []
    for path in discover_recordings(folder):
        try:
            recording = load_recording(path)
            if need_behaviour and recording.reversal is None:
                raise DataFormatError(
                    f"{path}: no behaviour (reversal) labels, so it cannot be used for training "
                    "or LOWO; move it out of the folder, or evaluate a trained model on it with "
                    "'rtdecode eval --model MODEL'"
                )
            prepared.append(prepare_recording(recording, config))
        except RtdecodeError as exc:
            unreadable.append({"path": str(path), "error": str(exc)})
    return prepared, unreadable


def prepare_folder(
    folder: Path | str, config: PreprocessConfig, need_behaviour: bool
) -> list[Prepared]:
    """Load and preprocess every recording in ``folder`` (sorted by file name).

    Raises
    ------
    DataFormatError
        If any recording cannot be read or (with ``need_behaviour``) has no reversal labels.
    """
    prepared, unreadable = prepare_readable(folder, config, need_behaviour)
    if unreadable:
        raise DataFormatError(unreadable[0]["error"])
    return prepared
