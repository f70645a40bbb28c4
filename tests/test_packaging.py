"""The package installs whole: every subpackage ships and the kernels are part of it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from click.testing import CliRunner

import rtdecode
from rtdecode.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def test_every_folder_of_code_is_a_package_that_discovery_ships() -> None:
    # pyproject finds packages automatically (find, not find_namespace): a folder of modules
    # without __init__.py would silently be left out of the wheel.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["packages"]["find"]["include"] == ["rtdecode", "rtdecode.*"]
    folders = {p.parent for p in (ROOT / "rtdecode").rglob("*.py")}
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists())
    assert not missing, f"add an __init__.py to {missing} so the wheel ships it"


def test_kernels_are_a_real_subpackage_shown_at_the_top_by_a_symlink() -> None:
    from rtdecode.kernels import normalize

    assert Path(normalize.__file__).resolve().parent == ROOT / "rtdecode" / "kernels"
    top = ROOT / "kernels"
    assert top.is_symlink() and top.resolve() == ROOT / "rtdecode" / "kernels"


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


def test_the_benchmark_does_not_import_the_command_line() -> None:
    # rtdecode.bench drives `rtdecode run` as a process (python -m rtdecode), never through cli.
    users = [
        p.name
        for p in (ROOT / "rtdecode" / "bench").glob("*.py")
        if "rtdecode.cli" in p.read_text()
    ]
    assert not users, f"rtdecode/bench modules that reach into rtdecode.cli: {users}"
