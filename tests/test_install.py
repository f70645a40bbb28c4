"""The built wheel, installed (not editable) into a fresh environment, runs from the repository root.

From the root, ``python -c`` and ``python -m`` put the source tree first on ``sys.path``, so the
source tree's ``rtdecode`` shadows the installed one: both must be complete packages. The bench's
decoder subprocess is such a ``python -c``.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _build_wheel(dist: Path) -> Path:
    """Build the wheel with pip as a user would; skip only when the build backend cannot be had.

    It builds from a copy of the working tree (links kept as links), so the build leaves no
    ``build/`` or ``*.egg-info`` in the repository.
    """
    source = dist.parent / "source"
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "out"
        ),
    )
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        if "No matching distribution" in done.stderr or "Could not find a version" in done.stderr:
            pytest.skip(f"cannot fetch the build backend to build a wheel: {done.stderr[-300:]}")
        raise AssertionError(f"building the wheel failed:\n{done.stdout}\n{done.stderr}")
    (wheel,) = dist.glob("rtdecode-*.whl")
    return wheel


def _fresh_venv(where: Path) -> Path:
    """A new virtual environment that sees this interpreter's dependencies but not its rtdecode."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(where)],
        check=True,
        timeout=120,
    )
    python = where / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Dependencies may live in this interpreter's own venv (make setup) rather than the base
    # Python: list those folders as plain path entries. Their .pth files (an editable rtdecode's
    # finder among them) are not run, so the only importable rtdecode is the one installed below.
    ours = [p for p in site.getsitepackages() if p != purelib]
    (Path(purelib) / "zz_deps_of_the_test_runner.pth").write_text("\n".join(ours) + "\n")
    return python


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_in_a_fresh_venv_decodes_and_benches_from_the_repository_root(
    tmp_path: Path,
) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    assert "rtdecode/kernels/normalize.py" in names
    assert not any(n.startswith("kernels/") for n in names), "no generic top-level `kernels`"
    python = _fresh_venv(tmp_path / "venv")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
        timeout=120,
    )
    rtdecode = str(python.parent / "rtdecode")

    # `python -c` from the root: the source tree's rtdecode comes first and must be whole.
    imported = _run(
        [str(python), "-c", "import rtdecode.kernels.normalize as m, rtdecode; print(m.__file__)"],
        60,
    )
    assert imported.returncode == 0, imported.stderr
    # Without the working directory on sys.path (-I), the import is the installed wheel.
    where = _run([str(python), "-I", "-c", "import rtdecode; print(rtdecode.__file__)"], 60)
    assert where.returncode == 0 and str(tmp_path / "venv") in where.stdout, where.stdout

    # The decoder itself, from the console script, on the bundled recording.
    demo = _run([rtdecode, "demo", "--speed", "500", "--every", "400"], 120)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "decoder total" in demo.stdout

    # `python -m pytest` from the root, as a contributor with a non-editable install runs it.
    tests = _run(
        [
            str(python),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_kernel_normalize.py",
        ],
        300,
    )
    assert tests.returncode == 0, tests.stdout[-2000:] + tests.stderr[-2000:]

    report = tmp_path / "bench.json"
    bench = _run(
        [
            rtdecode, "bench", "--engine", "all", "--rate", "200", "--seconds", "1",
            "--min-frames", "50", "--no-ceiling", "--json", str(report),
        ],
        400,
    )  # fmt: skip
    assert bench.returncode == 0, bench.stdout + bench.stderr
    doc = json.loads(report.read_text())
    assert doc["engines"], doc.get("missing")
    for engine in doc["engines"]:
        assert engine["error"] is None, (engine["engine"], engine["error"])
        (rate,) = engine["rates"]
        assert rate["predictions"] > 0, engine["engine"]
