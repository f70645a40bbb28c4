"""ONNX export and the ONNX Runtime engine agree with torch on real windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtdecode.data import bundled_recording
from rtdecode.engines import load_engine
from rtdecode.errors import ConfigError, ModelError
from rtdecode.models import load_model_file
from rtdecode.models._export import export_onnx
from rtdecode.preprocess import preprocess_traces

pytest.importorskip("onnxruntime")

# float32 graphs run by two runtimes: different kernels and summation order.
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(load_model_file(), tmp_path_factory.mktemp("onnx") / "default.onnx")


def test_export_writes_one_self_contained_file(onnx_file: Path) -> None:
    assert onnx_file.is_file()
    assert [p.name for p in onnx_file.parent.iterdir()] == [onnx_file.name]


@pytest.mark.parametrize("n_neurons", [130, 61])
def test_onnx_and_torch_give_the_same_probabilities(onnx_file: Path, n_neurons: int) -> None:
    recording = bundled_recording()
    torch_engine = load_engine(engine="torch")
    onnx_engine = load_engine(onnx_file, engine="onnx")
    assert onnx_engine.window == torch_engine.window
    assert onnx_engine.preprocess == torch_engine.preprocess
    cols = np.arange(n_neurons)
    features, valid = preprocess_traces(
        recording.traces[:, cols], recording.timestamps, torch_engine.preprocess
    )
    labels = [recording.labels[i] for i in cols]
    w = torch_engine.window
    for engine in (torch_engine, onnx_engine):
        engine.prepare(n_neurons, labels, recording.frame_interval)
    for t in range(w, recording.n_frames, 97):
        a = torch_engine.infer(features[t - w : t], valid[t - w : t])
        b = onnx_engine.infer(features[t - w : t], valid[t - w : t])
        np.testing.assert_allclose(a, b, atol=TOLERANCE)


def test_the_onnx_engine_also_exports_in_memory_from_a_model_file() -> None:
    engine = load_engine(engine="onnx")
    engine.prepare(7, None, 0.5)
    probs = engine.infer(
        np.zeros((engine.window, 7, engine.n_features), np.float32),
        np.ones((engine.window, 7), bool),
    )
    assert probs.shape == (2,) and abs(float(probs.sum()) - 1.0) < 1e-5


def test_onnx_files_are_refused_with_the_fix(tmp_path: Path, onnx_file: Path) -> None:
    with pytest.raises(ConfigError, match="--engine onnx"):
        load_engine(onnx_file, engine="torch")
    with pytest.raises(ModelError, match="rtdecode export"):
        load_engine(tmp_path / "nothing.onnx", engine="onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match="rtdecode export"):
        load_engine(bad, engine="onnx")


def test_export_command_writes_a_file_the_onnx_engine_runs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rtdecode.cli import cli

    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(cli, ["export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    engine = load_engine(out, engine="onnx")
    assert engine.states == ("forward", "reversal")
    missing = CliRunner().invoke(
        cli, ["export", "--model", str(tmp_path / "x.pt"), "--out", str(out)]
    )
    assert missing.exit_code != 0 and "does not exist" in missing.output
