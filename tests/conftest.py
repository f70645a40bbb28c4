"""Shared fixtures: the real recordings in ../shared when present, the bundled one always."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtdecode.data import Recording, bundled_recording

ROOT = Path(__file__).resolve().parents[1]
SHARED_FLAVELL = ROOT.parent / "shared" / "data" / "flavell2023"


@pytest.fixture(scope="session")
def flavell_dir() -> Path:
    """The folder of the six shared recordings; skips the test when it is not beside the repo."""
    if not any(SHARED_FLAVELL.glob("*.h5")):
        pytest.skip(
            f"needs the shared recordings in {SHARED_FLAVELL} (not present on this machine)"
        )
    return SHARED_FLAVELL


@pytest.fixture(scope="session")
def bundled() -> Recording:
    """The real recording shipped inside the package."""
    return bundled_recording()
