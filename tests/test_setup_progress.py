"""``make demo``'s first run sets up .venv for minutes: every step says what it installs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_setup_step_announces_what_it_installs(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # -n: print the recipe without running it; -B: as on a first run
    recipe = subprocess.run(
        ["make", "-n", "-B", "setup", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    said = [line for line in recipe.splitlines() if line.startswith("echo ")]
    installs = [line for line in recipe.splitlines() if "pip install" in line]
    assert len(installs) == 3 and len(said) >= len(installs) + 1
    # each install is preceded by a line naming it, torch's as the long one
    lines = recipe.splitlines()
    for install in installs:
        before = lines[lines.index(install) - 1]
        assert before.startswith("echo ") and "[" in before, before
    assert any("torch" in line and "largest" in line for line in said)
