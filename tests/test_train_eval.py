"""``rtdecode train`` and ``rtdecode eval`` end to end on real recordings (tiny epochs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rtdecode.cli import cli
from rtdecode.data import Recording, bundled_recording, write_npz
from rtdecode.engines import load_engine
from rtdecode.training._evaluate import LOWO_FIRST_FRAME

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flavell2023"


def _halves(folder: Path) -> Path:
    """Two 'animals' cut from the bundled recording (enough to exercise the protocol)."""
    rec = bundled_recording()
    folder.mkdir()
    for i, part in enumerate((slice(0, 400), slice(400, 800))):
        write_npz(
            Recording(
                id=f"half{i}",
                traces=rec.traces[part],
                timestamps=rec.timestamps[part],
                labels=rec.labels,
                reversal=rec.reversal[part],
            ),
            folder / f"half{i}.npz",
        )
    return folder


@pytest.mark.slow
def test_train_writes_a_model_the_engines_load(tmp_path: Path) -> None:
    data = _halves(tmp_path / "data")
    out = tmp_path / "m.pt"
    result = CliRunner().invoke(
        cli, ["train", "--data", str(data), "--out", str(out), "--epochs", "1"]
    )
    assert result.exit_code == 0, result.output
    engine = load_engine(out)
    engine.prepare(9, None, 0.6)
    probs = engine.infer(
        np.zeros((engine.window, 9, engine.n_features), np.float32),
        np.ones((engine.window, 9), bool),
    )
    assert probs.shape == (2,)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["gnn", "logreg", "deepsets", "gru", "mlp"])
def test_lowo_writes_the_documented_report(tmp_path: Path, recipe: str) -> None:
    data = _halves(tmp_path / "data")
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "--data",
            str(data),
            "--protocol",
            "lowo",
            "--recipe",
            recipe,
            "--epochs",
            "1",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert [r["id"] for r in report["recordings"]] == ["half0", "half1"]
    for entry in report["recordings"]:
        assert entry["frames"] == 400 - LOWO_FIRST_FRAME  # the same scored frames for every model
        assert 0.0 <= entry["balanced_accuracy"] <= 1.0 and 0.0 <= entry["auroc"] <= 1.0
        assert {"f1", "catch_all_1.2s", "catch_sustained_2.4s", "false_per_min_2.4s"} <= set(entry)
    assert 0.0 <= report["mean_balanced_accuracy"] <= 1.0 and "mean_auroc" in report
    if recipe != "gnn":  # only the GNN is also scored without identities
        assert "without_labels" not in report


@pytest.mark.slow
def test_lowo_reuses_fold_models_from_the_fold_cache(tmp_path: Path) -> None:
    data = _halves(tmp_path / "data")
    cache = tmp_path / "folds"
    args = ["eval", "--data", str(data), "--protocol", "lowo", "--recipe", "logreg"]
    args += ["--epochs", "1", "--fold-cache", str(cache), "--json"]
    first = CliRunner().invoke(cli, [*args, str(tmp_path / "a.json")])
    assert first.exit_code == 0, first.output
    models = sorted(cache.glob("*.pt"))
    assert [p.name.split("-")[1] for p in models] == ["half0", "half1"]  # one per held-out animal
    stamps = [p.stat().st_mtime_ns for p in models]
    second = CliRunner().invoke(cli, [*args, str(tmp_path / "b.json")])
    assert second.exit_code == 0, second.output
    assert [p.stat().st_mtime_ns for p in models] == stamps  # read back, not trained again
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    assert a["recordings"] == b["recordings"]


def test_eval_runs_a_model_on_recordings_without_labels_at_another_rate(tmp_path: Path) -> None:
    rec = bundled_recording()
    folder = tmp_path / "lab"
    folder.mkdir()
    write_npz(
        Recording(
            id="fast-no-ids",
            traces=rec.traces,
            timestamps=np.arange(rec.n_frames) * 0.35,
            labels=(None,) * rec.n_neurons,
            reversal=None,
        ),
        folder / "fast.npz",
    )
    write_npz(rec, folder / "bundled.npz")
    out = tmp_path / "r.json"
    result = CliRunner().invoke(cli, ["eval", "--data", str(folder), "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    by_id = {r["id"]: r for r in report["recordings"]}
    assert by_id["fast-no-ids"]["frames"] == rec.n_frames - load_engine().window + 1
    assert "balanced_accuracy" not in by_id["fast-no-ids"]
    assert 0.5 < by_id[rec.id]["auroc"] <= 1.0  # trained on this animal: a sanity floor
    assert report["mean_balanced_accuracy"] == by_id[rec.id]["balanced_accuracy"]


def test_lowo_refuses_recordings_without_behaviour(tmp_path: Path) -> None:
    rec = bundled_recording()
    folder = tmp_path / "lab"
    folder.mkdir()
    write_npz(
        Recording(id="x", traces=rec.traces, timestamps=rec.timestamps, labels=rec.labels),
        folder / "x.npz",
    )
    result = CliRunner().invoke(cli, ["eval", "--data", str(folder), "--protocol", "lowo"])
    assert result.exit_code != 0 and "no behaviour" in result.output


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="needs the six recordings in ../shared/data/flavell2023"
)
def test_the_default_model_decodes_all_six_shared_recordings(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = CliRunner().invoke(cli, ["eval", "--data", str(SHARED), "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert len(report["recordings"]) == 6
    # the default model saw these animals in training: this is a floor, not the LOWO figure
    assert report["mean_auroc"] > 0.7


@pytest.mark.slow
def test_progress_names_each_epoch_recording_and_fold_on_stderr_only(tmp_path: Path) -> None:
    data = _halves(tmp_path / "data")
    train = ["train", "--data", str(data), "--out", str(tmp_path / "m.pt"), "--recipe", "logreg"]
    quiet = CliRunner().invoke(cli, [*train, "--epochs", "2"])
    assert quiet.exit_code == 0, quiet.output
    assert "epoch 1/2" not in quiet.output  # not a terminal, not asked: a log stays clean
    shown = CliRunner().invoke(cli, [*train, "--epochs", "2", "--progress"])
    assert shown.exit_code == 0, shown.output
    assert "epoch 1/2: loss" in shown.stderr and "epoch 2/2: loss" in shown.stderr
    assert "epoch 1/2" not in shown.stdout

    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        cli, ["eval", "--data", str(data), "--json", str(out), "--progress"]
    )
    assert result.exit_code == 0, result.output
    assert "recording 1/2 half0" in result.stderr and "recording 2/2 half1" in result.stderr
    header, *rows = result.stdout.splitlines()[:3]  # the table, untouched by the progress
    assert header.split()[0] == "recording" and [r.split()[0] for r in rows] == ["half0", "half1"]
    assert [r["id"] for r in json.loads(out.read_text())["recordings"]] == ["half0", "half1"]

    lowo = ["eval", "--data", str(data), "--protocol", "lowo", "--recipe", "logreg"]
    result = CliRunner().invoke(cli, [*lowo, "--epochs", "1", "--progress"])
    assert result.exit_code == 0, result.output
    for fold in ("half0", "half1"):  # one line per fold, as it finishes
        assert f"{fold}: balanced accuracy" in result.stderr
        assert f"{fold}: balanced accuracy" not in result.stdout
