"""``rtdecode eval`` as a user reads it: whole column headings, and a run that scored nothing
fails instead of printing an empty table."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from rtdecode.cli import cli
from rtdecode.cli._headings import heading
from rtdecode.data import Recording, bundled_recording, write_npz
from rtdecode.training._evaluate import METRIC_KEYS


def _recording(folder: Path, rid: str, frames: int) -> None:
    whole = bundled_recording()
    assert whole.reversal is not None
    part = Recording(
        rid,
        whole.traces[:frames],
        whole.timestamps[:frames],
        whole.labels,
        reversal=whole.reversal[:frames],
    )
    write_npz(part, folder / f"{rid}.npz")


def test_a_run_that_scored_nothing_exits_non_zero(tmp_path: Path) -> None:
    _recording(tmp_path, "too-short", 20)  # shorter than the shipped model's window
    result = CliRunner().invoke(cli, ["eval", "--data", str(tmp_path)])
    assert result.exit_code != 0, result.output
    assert "nothing was scored" in result.output and "too-short" in result.output


def test_every_heading_is_whole_and_apart_from_its_neighbours(tmp_path: Path) -> None:
    _recording(tmp_path, "a-recording-with-a-long-name", 200)
    result = CliRunner().invoke(cli, ["eval", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("recording"))
    keys = ["frames", *(k for k in METRIC_KEYS if not k.startswith("lag_median_"))]
    assert re.split(r"\s{2,}", header.strip()) == ["recording", *map(heading, keys)]
    row = next(line for line in lines if line.startswith("a-recording-with-a-long-name "))
    assert len(re.split(r"\s{2,}", row.strip())) == len(keys) + 1  # one cell per column
