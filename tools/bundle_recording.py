"""Convert the shipped recording from shared/data/flavell2023 into rtdecode/resources/.

Run from the repository root: ``python tools/bundle_recording.py [--data ../shared/data/flavell2023]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rtdecode.data import BUNDLED_ID, read_flavell_h5, write_npz

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Write ``rtdecode/resources/<id>.npz`` from the shared HDF5 file and its labels CSV."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/flavell2023")
    args = parser.parse_args()
    recording = read_flavell_h5(args.data / f"{BUNDLED_ID}-data.h5")
    out = write_npz(recording, ROOT / "rtdecode" / "resources" / f"{BUNDLED_ID}.npz")
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB): {recording.summary()}")


if __name__ == "__main__":
    main()
