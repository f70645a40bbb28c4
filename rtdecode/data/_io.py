"""Load a recording by file type and discover every recording in a folder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from rtdecode.data._flavell import read_flavell_h5
from rtdecode.data._npz import read_npz
from rtdecode.data._recording import Recording
from rtdecode.errors import DataFormatError

__all__ = ["BUNDLED_ID", "bundled_recording", "discover_recordings", "load_recording"]

BUNDLED_ID = "2022-08-02-31"
SUFFIXES = (".h5", ".hdf5", ".npz", ".nwb")


def load_recording(path: Path | str) -> Recording:
    """Load one recording, choosing the reader by file suffix.

    ``.h5``/``.hdf5``: the Dag et al. 2023 layout (labels from ``labels/<id>.csv`` if present);
    ``.npz``: the minimal format of :mod:`rtdecode.data._npz`; ``.nwb``: Neurodata Without
    Borders as written by ``rtdecode convert`` (needs the ``nwb`` extra).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return read_flavell_h5(path)
    if suffix == ".npz":
        return read_npz(path)
    if suffix == ".nwb":
        from rtdecode.data._nwb import read_nwb

        return read_nwb(path)
    if not path.exists():
        raise DataFormatError(f"recording file {path} does not exist; check the path")
    raise DataFormatError(
        f"{path}: unknown recording type '{suffix}'; rtdecode reads {', '.join(SUFFIXES)} "
        "(convert other data to .npz, see docs/formats.md)"
    )


def discover_recordings(folder: Path | str) -> list[Path]:
    """Every recording file directly inside ``folder``, sorted by name.

    Raises
    ------
    DataFormatError
        If the folder does not exist or holds no recording.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFormatError(f"data folder {folder} does not exist or is not a folder")
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not found:
        raise DataFormatError(
            f"data folder {folder} holds no recording ({', '.join(SUFFIXES)} files); "
            "point --data at the folder that holds them"
        )
    return found


def bundled_recording() -> Recording:
    """The real recording that ships inside the package (Dag et al. 2023, CC BY).

    Animal ``2022-08-02-31``: 800 volumes x 130 neurons at about 1.7 Hz, with NeuroPAL labels
    and tracked reversals; converted from ``shared/data/flavell2023`` by
    ``tools/bundle_recording.py``.
    """
    resource = resources.files("rtdecode") / "resources" / f"{BUNDLED_ID}.npz"
    with resources.as_file(resource) as path:
        return read_npz(path)
