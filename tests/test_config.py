"""Configuration files: TOML sections into frozen, validated dataclasses."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtdecode.config import PreprocessConfig, load_toml
from rtdecode.errors import ConfigError


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
