"""The user guide builds with every link and anchor resolving, and a broken one fails the build.

``make test`` builds the guide with ``mkdocs build --strict`` (CI runs ``make test``); these tests
show that the build is the check it claims to be, and check the README's links, which the site
build does not see.
"""

from __future__ import annotations

import importlib
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _ci_build_command() -> list[str]:
    """The docs build exactly as ``make test`` (and so CI) runs it, with this Python."""
    recipe = (ROOT / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    (line,) = [line for line in recipe.splitlines() if "mkdocs build" in line]
    return [sys.executable if word == "$(BIN)/python" else word for word in shlex.split(line)]


def _build(root: Path) -> subprocess.CompletedProcess[str]:
    """Build the guide in ``root`` (a copy: the site goes to root/build/site) as CI does."""
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install '.[docs]'")
    return subprocess.run(
        _ci_build_command(), cwd=root, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def guide_copy(tmp_path: Path) -> Path:
    """A copy of the guide's sources (mkdocs.yml and docs/), to build and to break."""
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def test_ci_builds_the_guide_strict() -> None:
    command = _ci_build_command()
    assert command[1:5] == ["-m", "mkdocs", "build", "--strict"]
    assert not {"-q", "--quiet", "-v", "--verbose"} & set(command), "these turn --strict off"


def test_the_guide_builds_and_every_page_is_in_it(guide_copy: Path) -> None:
    result = _build(guide_copy)
    assert result.returncode == 0, result.stderr
    pages = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    site = guide_copy / "build" / "site"
    built = sorted(p.stem for p in site.glob("*.html") if p.stem != "404")
    assert built == pages


@pytest.mark.parametrize(
    ("link", "complaint"),
    [
        ("no-such-page.md", "'no-such-page.md', but the target is not found"),
        ("formats.md#no-such-section", "does not contain an anchor '#no-such-section'"),
        ("#no-such-section", "there is no such anchor on this page"),
    ],
)
def test_a_broken_link_or_anchor_fails_the_build_naming_it(
    guide_copy: Path, link: str, complaint: str
) -> None:
    page = guide_copy / "docs" / "index.md"
    page.write_text(page.read_text() + f"\nSee [this]({link}).\n")
    result = _build(guide_copy)
    assert result.returncode != 0, "mkdocs --strict accepted a broken link"
    assert "index.md" in result.stderr and complaint in result.stderr, result.stderr


def test_a_page_left_out_of_the_nav_fails_the_build(guide_copy: Path) -> None:
    (guide_copy / "docs" / "orphan.md").write_text("# Orphan\n")
    result = _build(guide_copy)
    assert result.returncode != 0 and "orphan.md" in result.stderr, result.stderr


def _anchors(page: Path) -> set[str]:
    """Heading anchors as GitHub and MkDocs make them (for headings of words, code and marks)."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", page.read_text(), re.M):
        text = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower())
        anchors.add(text.strip().replace(" ", "-"))
    return anchors


def test_the_readme_links_point_at_files_and_headings_that_exist() -> None:
    links = [link for link in LINK.findall((ROOT / "README.md").read_text())]
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert len(local) >= 10, "the README links to the guide's pages"
    for link in local:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.is_file(), f"README links to {path}, which does not exist"
        if anchor:
            assert anchor in _anchors(target), f"README links to #{anchor}, not a heading of {path}"


def test_every_page_the_code_points_users_to_exists() -> None:
    """Error messages and help texts name guide pages (``see docs/formats.md``); they exist."""
    named = {
        (path, page)
        for folder in ("rtdecode", "bench", "tools")
        for path in (ROOT / folder).rglob("*.py")
        for page in re.findall(r"docs/[\w\-]+\.md", path.read_text())
    }
    assert named, "the code names no guide page"
    missing = sorted(
        f"{path.relative_to(ROOT)}: {page}" for path, page in named if not (ROOT / page).is_file()
    )
    assert not missing, missing


def _resolves(dotted: str) -> bool:
    """Whether ``rtdecode.a.b.C`` names a module or an attribute of one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_every_python_name_the_guide_cites_exists() -> None:
    """`rtdecode.x.Name` in a page is importable, so a moved module shows as a stale page."""
    cited = {
        (page.name, name)
        for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for name in re.findall(r"`(rtdecode(?:\.\w+)+)", page.read_text())
    }
    assert cited, "the guide cites no rtdecode name"
    stale = sorted(f"{page}: {name}" for page, name in cited if not _resolves(name))
    assert not stale, f"these pages name what no longer imports; update them: {stale}"


def test_every_command_and_option_is_in_the_guide() -> None:
    """Each ``rtdecode`` command and each of its long options (not hidden) appears on some page."""
    import click

    from rtdecode.cli import cli

    guide = "\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))
    context = click.Context(cli)
    missing = []
    for name in cli.list_commands(context):
        command = cli.get_command(context, name)
        assert command is not None
        if f"rtdecode {name}" not in guide:
            missing.append(f"rtdecode {name}")
        for param in command.params:
            if getattr(param, "hidden", False):  # e.g. an old spelling kept for a while
                continue
            for flag in [*param.opts, *param.secondary_opts]:
                if flag.startswith("--") and flag != "--help":
                    if not re.search(rf"{re.escape(flag)}(?![\w-])", guide):
                        missing.append(f"rtdecode {name} {flag}")
    assert not missing, f"document these in docs/ (the page that covers the command): {missing}"
