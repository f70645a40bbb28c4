"""`rtdecode bench` end to end: a short run writes the documented JSON and a PNG."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from rtdecode.bench import ENV_KEYS, SCHEMA, STAGES
from rtdecode.cli import cli

TOP_KEYS = {
    *("schema", "command", "settings", "environment", "hops", "engines", "trigger", "missing"),
    "budget",
}
STATS_KEYS = {"count", "p50", "p90", "p99", "p99_9", "max", "mean", "jitter"}


@pytest.mark.slow
def test_short_bench_run_writes_documented_json_and_png(tmp_path: Path) -> None:
    out_json, out_png = tmp_path / "out.json", tmp_path / "out.png"
    result = CliRunner().invoke(
        cli,
        [
            "bench", "--engine", "torch", "--rate", "200", "--seconds", "1.5", "--min-frames", "50",
            "--keep-warm-ms", "5", "--json", str(out_json), "--plot", str(out_png), "--progress",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(out_json.read_text())
    assert set(doc) == TOP_KEYS and doc["schema"] == SCHEMA
    # --seconds bounds the whole run: the hop, the 200 Hz phase and the ceiling search share it
    assert doc["budget"]["share_s"] == 0.5 and doc["budget"]["streamed_s"] <= 1.5
    # progress went to stderr (forced on), naming the engine and the rate; stdout is the table
    assert "torch n=150 200 Hz" in result.stderr and "torch n=150 ceiling" in result.stderr
    assert "/0.5 s" not in result.stdout and "p99.9" in result.stdout
    assert doc["engines"][0]["ceiling_steps"][0]["rate_hz"] == 500.0  # the steps that fit 0.5 s
    assert tuple(doc["environment"]) == ENV_KEYS
    assert doc["settings"]["rates_hz"] == [200.0] and doc["settings"]["engines"] == ["torch"]
    (hop,) = doc["hops"]
    assert hop["neurons"] == 150 and hop["frames_sent"] == 100
    assert set(hop["latency_us"]) == STATS_KEYS and hop["received"] == 100
    assert "bare hop" in result.output and "p99.9" in result.output
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    trigger = doc["trigger"]  # the trigger path's own row: every pulse reached the pty device
    assert trigger["pulses"] == trigger["device_pulses"] == 2000 and trigger["device_errors"] == 0
    assert trigger["decision_to_written_us"]["count"] == 2000
    assert "trigger decision->byte written (pty)" in result.output
    (engine,) = doc["engines"]
    assert engine["error"] is None, engine["error"]
    (rate,) = engine["rates"]
    assert rate["frames_sent"] == 100 and rate["predictions"] + rate["dropped"] == 100
    assert set(rate["end_to_end_us"]) == STATS_KEYS
    assert set(rate["stages_us"]) == {*STAGES, "decoder"}
    assert rate["overhead_ratio"]["p50"] > 0
    assert engine["peak_rss_mib"] > 0 and engine["decoder_summary"]
    # --keep-warm-ms reached the decoder: it ran warm passes while idle between phases
    assert (
        "--keep-warm-ms" in engine["command"] and engine["decoder_summary"]["keep_warm_passes"] > 0
    )


@pytest.mark.slow
def test_two_streams_into_one_decoder_give_a_row_and_figures_per_stream(tmp_path: Path) -> None:
    out_json, out_png = tmp_path / "out.json", tmp_path / "out.png"
    result = CliRunner().invoke(
        cli,
        [
            "bench", "--engine", "numba", "--streams", "2", "--rate", "20", "--seconds", "2",
            "--min-frames", "20", "--no-ceiling", "--json", str(out_json), "--plot", str(out_png),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(out_json.read_text())
    (hop,) = doc["hops"]
    assert hop["streams"] == 2 and hop["frames_sent"] == hop["received"] == 40
    (engine,) = doc["engines"]
    assert engine["error"] is None, engine["error"]
    assert engine["streams"] == 2 and engine["command"].count("--source") == 2
    (rate,) = engine["rates"]
    assert rate["phase"] == "locked" and rate["cpu_percent"] > 0
    assert [row["stream"] for row in rate["streams"]] == [1, 2]
    for row in rate["streams"]:  # every frame of every stream reached the decoder and is counted
        assert row["frames_sent"] == row["received"] == 20
        assert row["predictions"] + row["dropped"] == 20 and row["skipped"] <= row["dropped"]
        assert set(row["stages_us"]["decoder"]) == STATS_KEYS
        assert row["predictions"] == row["stages_us"]["decoder"]["count"]
    assert rate["worst_stream"] in (1, 2)
    assert rate["all_streams"]["frames_sent"] == 40
    per_stream = engine["decoder_summary"]["streams"]
    assert [s["stream"] for s in per_stream] == [1, 2]
    assert all(s["frames"] >= 20 for s in per_stream)
    table = result.output
    assert "2 streams into one decoder:" in table and "worst stream (decoder-added p99)" in table
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_rejects_bad_options_with_a_message() -> None:
    result = CliRunner().invoke(cli, ["bench", "--rate", "0"])
    assert result.exit_code != 0 and "--rate" in result.output
    result = CliRunner().invoke(cli, ["bench", "--decoder-env", "OMP_NUM_THREADS"])
    assert result.exit_code != 0 and "NAME=VALUE" in result.output
    result = CliRunner().invoke(cli, ["bench", "--cpu", "4096"])
    assert result.exit_code != 0 and "--cpu" in result.output and "choose one of" in result.output
    result = CliRunner().invoke(cli, ["bench", "--streams", "0"])
    assert result.exit_code != 0 and "--streams" in result.output


def test_every_scenario_in_bench_is_a_valid_bench_command_line() -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "bench" / "scenarios.py"
    spec = importlib.util.spec_from_file_location("bench_scenarios", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert {"default", "microscope", "microscope-busy-poll", "high-rate", "neurons"} <= set(
        module.SCENARIOS
    )
    command = cli.get_command(click.Context(cli), "bench")
    assert command is not None
    for name, (_, options) in module.SCENARIOS.items():
        context = command.make_context(f"bench {name}", list(options))
        assert context.params["engines"], name
