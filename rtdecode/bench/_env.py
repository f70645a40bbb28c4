"""What machine and software a benchmark ran on, recorded beside its figures."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["ENV_KEYS", "PACKAGES", "capture_environment"]

PACKAGES: tuple[str, ...] = (
    "rtdecode",
    "numpy",
    "numba",
    "torch",
    "onnxruntime",
    "pyzmq",
    "h5py",
)
"""Distributions whose installed versions are recorded (``None`` when not installed)."""

ENV_KEYS: tuple[str, ...] = (
    "time_utc",
    "cpu_model",
    "cpu_count_logical",
    "cpu_count_usable",
    "memory_total_mib",
    "load_average",
    "platform",
    "kernel",
    "python",
    "python_implementation",
    "packages",
    "git_sha",
    "git_dirty",
    "engine_settings",
)
"""Keys of the mapping :func:`capture_environment` returns (the ``environment`` JSON block)."""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_total_mib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    """Run git in the directory the rtdecode package was imported from; None outside a checkout."""
    where = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def capture_environment(engine_settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Describe this machine, its software and the engine settings of a run.

    Parameters
    ----------
    engine_settings
        Per-engine settings the benchmark used (threads, model file, window, ...), recorded as
        given.

    Returns
    -------
    dict
        JSON-ready mapping with exactly the keys in :data:`ENV_KEYS`. ``load_average`` is the
        system's 1, 5 and 15 minute load (other work competing for the cores). ``git_sha`` and
        ``git_dirty`` are ``None`` when rtdecode was not imported from a git checkout.
    """
    sha = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if sha else None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "time_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cpu_count_logical": os.cpu_count(),
        "cpu_count_usable": usable,
        "memory_total_mib": _memory_total_mib(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": {name: _package_version(name) for name in PACKAGES},
        "git_sha": sha,
        "git_dirty": None if status is None else bool(status),
        "engine_settings": dict(engine_settings or {}),
    }
