"""Recordings: the :class:`Recording` type, readers, writers and folder discovery."""

from rtdecode.data._flavell import read_flavell_h5, read_labels_csv
from rtdecode.data._io import BUNDLED_ID, bundled_recording, discover_recordings, load_recording
from rtdecode.data._npz import read_npz, write_npz
from rtdecode.data._recording import Recording

__all__ = [
    "BUNDLED_ID",
    "Recording",
    "bundled_recording",
    "discover_recordings",
    "load_recording",
    "read_flavell_h5",
    "read_labels_csv",
    "read_npz",
    "write_npz",
]
