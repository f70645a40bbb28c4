"""``bench/engine_latency.py`` (inference alone) keeps its command line and the shared statistics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rtdecode.bench import ENV_KEYS

ROOT = Path(__file__).resolve().parents[1]


def test_engine_latency_script_writes_nearest_rank_percentiles_and_the_environment(
    tmp_path: Path,
) -> None:
    out = tmp_path / "infer.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "engine_latency.py"), "--engine", "torch",
         "--neurons", "20", "--calls", "20", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert tuple(doc["environment"]) == ENV_KEYS
    (row,) = doc["results"]
    assert row["engine"] == "torch" and row["neurons"] == 20 and row["calls"] == 20
    # With 20 calls the nearest-rank p99 and p99.9 are the slowest call itself.
    assert row["p50_us"] <= row["p99_us"] == row["p99.9_us"] == row["max_us"]


def test_batch_latency_script_times_both_ways_of_decoding_several_streams(tmp_path: Path) -> None:
    out = tmp_path / "batch.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "batch_latency.py"), "--engines", "torch",
         "--neurons", "20", "--sizes", "1", "3", "--repeats", "10", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert tuple(doc["environment"]) == ENV_KEYS
    rows = {(r["windows"], r["way"]): r for r in doc["results"]}
    assert set(rows) == {(b, w) for b in (1, 3) for w in ("back to back", "infer_batch")}
    for row in rows.values():
        assert row["engine"] == "torch" and row["neurons"] == 20 and row["repeats"] == 10
        assert 0 < row["p50_us"] <= row["p99_us"] == row["p99.9_us"] == row["max_us"]
