"""The package installs whole: every subpackage is listed and kernels map to rtdecode.kernels."""

from __future__ import annotations

import tomllib
from pathlib import Path

from click.testing import CliRunner

import rtdecode
from rtdecode.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "rtdecode").rglob("__init__.py")
    }
    found.add("rtdecode.kernels")
    assert found == listed, "add new subpackages to [tool.setuptools] packages in pyproject.toml"


def test_kernels_import_as_part_of_the_package() -> None:
    from rtdecode.kernels import normalize

    assert Path(normalize.__file__).parent.name == "kernels"


def test_cli_answers_version_and_help() -> None:
    runner = CliRunner()
    version = runner.invoke(cli, ["--version"])
    assert version.exit_code == 0 and rtdecode.__version__ in version.output
    helptext = runner.invoke(cli, ["--help"])
    assert helptext.exit_code == 0
    for command in ("info", "convert"):
        assert command in helptext.output


def test_protocol_users_do_not_import_torch() -> None:
    # A microscope-side producer imports rtdecode.stream only to encode frames: it must not pay
    # torch's seconds of start-up and hundreds of MB.
    import subprocess
    import sys

    code = "import sys, rtdecode.stream; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
