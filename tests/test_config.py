"""Configuration files and the shipped connectome."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from rtdecode.config import PreprocessConfig, load_toml
from rtdecode.connectome import load_connectome
from rtdecode.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_toml_section_loads_into_a_frozen_dataclass(tmp_path: Path) -> None:
    path = tmp_path / "rtdecode.toml"
    path.write_text("[preprocess]\ntau_s = 30.0\n")
    config = load_toml(path, PreprocessConfig, "preprocess")
    assert config == PreprocessConfig(tau_s=30.0)
    with pytest.raises(AttributeError):
        config.tau_s = 1.0  # type: ignore[misc]


def test_absent_section_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "rtdecode.toml"
    path.write_text("[other]\nx = 1\n")
    assert load_toml(path, PreprocessConfig, "preprocess") == PreprocessConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[preprocess]\ntau = 3\n", r"unknown key\(s\) \['tau'\] in \[preprocess\].*tau_s"),
        ("[preprocess]\ntau_s = -1\n", r"preprocess.tau_s must be > 0 seconds, got -1"),
        ("[preprocess]\nskew_tau_s = 0\n", r"preprocess.skew_tau_s must be > 0 seconds, got 0"),
        ("[preprocess\n", r"is not valid TOML"),
        ("preprocess = 3\n", r"\[preprocess\] must be a table"),
    ],
)
def test_bad_config_names_the_value(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_toml(path, PreprocessConfig, "preprocess")
    with pytest.raises(ConfigError, match="does not exist"):
        load_toml(tmp_path / "absent.toml", PreprocessConfig, "preprocess")


def test_connectome_adjacency_follows_recording_column_order() -> None:
    connectome = load_connectome()
    a = connectome.adjacency(["AVAL", "AVBL", "AIBL", None])
    b = connectome.adjacency([None, "AIBL", "AVBL", "AVAL"])
    np.testing.assert_array_equal(a[:, :3, :3], b[:, 3:0:-1, 3:0:-1])
    assert not a[:, 3, :].any() and not a[:, :, 3].any()
    assert a[1].T.tolist() == a[1].tolist()  # gap junctions are symmetric
    assert a[0, 2, 0] > 0  # AIB drives AVA in every reconstruction


def test_shipped_connectome_is_rebuilt_exactly_from_shared_data() -> None:
    data = ROOT.parent / "shared" / "data" / "connectome"
    if not data.is_dir():
        pytest.skip(f"needs the shared connectome in {data}")
    spec = importlib.util.spec_from_file_location(
        "build_connectome", ROOT / "tools/build_connectome.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rebuilt = module.build(data)
    shipped = load_connectome()
    assert tuple(rebuilt["names"]) == shipped.names
    np.testing.assert_array_equal(rebuilt["chemical"], shipped.chemical)
    np.testing.assert_array_equal(rebuilt["electrical"], shipped.electrical)
