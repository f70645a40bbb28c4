"""`rtdecode bench --flood`: the calm streams measured with a flooding neighbour switched off
and on in one decoder, and every frame of every stream accounted for."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from rtdecode.bench import ENV_KEYS, FLOOD_SCHEMA
from rtdecode.cli import cli

STATS_KEYS = {"count", "p50", "p90", "p99", "p99_9", "max", "mean", "jitter"}


PINNED = pytest.param(
    ["--cpu", "0"],
    marks=pytest.mark.skipif(
        not {0, 1} <= os.sched_getaffinity(0), reason="pinning needs cores 0 and 1"
    ),
    id="decoder-pinned",
)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("pinning", [pytest.param([], id="unpinned"), PINNED])
def test_flood_bench_reports_both_phases_and_accounts_for_every_flood_frame(
    tmp_path: Path, pinning: list[str]
) -> None:
    out = tmp_path / "flood.json"
    cores = os.sched_getaffinity(0)
    result = CliRunner().invoke(
        cli,
        [
            "bench", "--flood", "1", "--streams", "2", "--engine", "numba", "--seconds", "8",
            "--flood-rate", "0", "--flood-neurons", "2048", "--json", str(out), *pinning,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # Pinned, the decoder ran on core 0 and the senders on the others; the caller's cores are
    # given back afterwards.
    assert ("decoder on core 0, senders on the others" in result.output) == bool(pinning)
    assert os.sched_getaffinity(0) == cores
    doc = json.loads(out.read_text())
    assert doc["schema"] == FLOOD_SCHEMA
    assert set(ENV_KEYS) <= set(doc["environment"]) and "load_average_before" in doc["environment"]
    assert doc["settings"]["calm"] == 2 and doc["settings"]["seconds"] == 4.0
    # Both phases measured the calm streams in one run, and every calm frame was published.
    assert doc["flood_blocks"] >= 1
    calm, flood = doc["streams"][:2], doc["streams"][2]
    # A calm frame without a prediction was superseded by its stream's next one (counted).
    assert doc["calm_unpublished"] <= sum(row["skipped"] for row in calm)
    assert set(doc["cpu"]) == {"wall_s", "decoder_process_s", "calm_sender_s", "flood_senders_s"}
    for phase in ("calm", "flood"):
        assert set(doc["phases"][phase]) == STATS_KEYS and doc["phases"][phase]["count"] > 0
    assert doc["p99_ratio"] == round(
        doc["phases"]["flood"]["p99"] / doc["phases"]["calm"]["p99"], 2
    )
    assert [row["role"] for row in doc["streams"]] == ["calm", "calm", "flood"]
    for row in calm:
        assert row["missing_frames"] == row["dropped_oldest"] == 0
    # Every frame the flood sent is decoded, skipped, warming, dropped (by its bound or before
    # the decoder read it) or left at the stop; a flood at full speed loses frames.
    assert flood["sent"] == flood["frames"] + flood["missing_frames"] + flood["left_at_stop"]
    assert flood["frames"] == flood["predictions"] + flood["warming"] + flood["skipped"]
    assert flood["missing_frames"] == flood["dropped_oldest"] + flood["dropped_in_transport"]
    assert flood["missing_frames"] > 0
    # The text names the phases and each stream's losses.
    assert "calm p99 under the flood" in result.output
    assert f"({flood['dropped_oldest']} + {flood['dropped_in_transport']})" in result.output
