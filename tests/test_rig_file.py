"""The rig file and ``rtdecode run``'s flags make one RunConfig: flags win key by key, unknown
keys are named, ``--print-config`` writes a rig file that loads back to the same configuration,
and ``--help`` shows the defaults of the configuration dataclasses."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from rtdecode.cli import cli
from rtdecode.errors import ConfigError
from rtdecode.live import (
    DecoderConfig,
    RunConfig,
    SourceConfig,
    load_run_config,
    render_toml,
    resolve_run_config,
)

RIG = """
[source]
addresses = ["zmq+tcp://127.0.0.1:5555"]
sinks = ["session.h5"]

[decoder]
engine = "torch"
keep_warm_ms = 20.0
abstain = [0.3, 0.7]

[calibration]
seconds = 240.0
margin = 0.02

[policy]
on = 0.85
"""


def _print_config(*args: str) -> str:
    result = CliRunner().invoke(cli, ["run", *args, "--print-config"])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_rig_file_sets_every_section(tmp_path: Path) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text(RIG)
    config = load_run_config(rig)
    assert config.source.addresses == ("zmq+tcp://127.0.0.1:5555",)
    assert config.decoder.engine == "torch" and config.decoder.keep_warm_ms == 20.0
    assert config.calibration.fit.seconds == 240.0 and config.calibration.fit.margin == 0.02
    assert config.policy is not None and config.policy.on == 0.85
    # one band: the decoder's serves the policy too
    assert config.decoder.abstain == config.policy.abstain == (0.3, 0.7)
    # what the file does not say keeps its default
    assert config.decoder.max_batch == DecoderConfig().max_batch
    assert config.behavior == RunConfig().behavior


def test_flags_override_the_rig_file_key_by_key(tmp_path: Path) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text(RIG)
    printed = tmp_path / "printed.toml"
    printed.write_text(_print_config("--config", str(rig), "--engine", "numba", "--on", "0.95"))
    config = load_run_config(printed)
    assert config.decoder.engine == "numba" and config.policy is not None
    assert config.policy.on == 0.95 and config.decoder.keep_warm_ms == 20.0  # kept from the file


def test_print_config_loads_back_to_the_same_configuration(tmp_path: Path) -> None:
    text = _print_config(
        "--source", "zmq+tcp://127.0.0.1:1", "--source", "lsl://scope", "--decode-every-frame"
    )
    (tmp_path / "rig.toml").write_text(text)
    config = load_run_config(tmp_path / "rig.toml")
    assert render_toml(config) == text
    assert config.source.addresses == ("zmq+tcp://127.0.0.1:1", "lsl://scope")
    assert config.decoder.max_batch == 1 and config.policy is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[decoder]\nengin = 'torch'\n", "unknown key(s) ['engin'] in [decoder]"),
        ("[decodr]\n", "unknown section(s) ['[decodr]']"),
        ("[calibration]\nsecond = 10\n", "unknown key(s) ['second'] in [calibration]"),
        ("[policy]\nonn = 0.5\n", "unknown key(s) ['onn'] in [policy]"),
    ],
)
def test_unknown_sections_and_keys_are_named_with_the_file(
    tmp_path: Path, text: str, named: str
) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text(text)
    with pytest.raises(ConfigError, match=r"valid|the sections are") as error:
        load_run_config(rig)
    assert named in str(error.value) and str(rig) in str(error.value)


def test_settings_of_one_stream_or_of_a_closed_loop_are_refused_where_they_do_not_apply() -> None:
    two = {"source": {"addresses": ("zmq+tcp://127.0.0.1:1", "zmq+tcp://127.0.0.1:2")}}
    with pytest.raises(ConfigError, match="--trigger is for one stream"):
        resolve_run_config({}, two, trigger=True)
    with pytest.raises(ConfigError, match=r"--arm .*only work with a trigger policy"):
        resolve_run_config({}, {"safety": {"arm": True}})
    with pytest.raises(ConfigError, match=r"decoder\.threads must be >= 1"):
        RunConfig(decoder=DecoderConfig(threads=0))


def test_help_shows_the_defaults_of_the_configuration() -> None:
    result = CliRunner().invoke(cli, ["run", "--help"], terminal_width=300)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for section, cls, key, flag in (
        ("source", SourceConfig, "max_neurons", "--max-neurons"),
        ("decoder", DecoderConfig, "engine", "--engine"),
        ("decoder", DecoderConfig, "threads", "--threads"),
    ):
        default = {f.name: f.default for f in dataclasses.fields(cls)}[key]
        assert flag in text and f"[default: {default}; {section}.{key}]" in text
    for group in ("Source options", "Decoder options", "Trigger options", "Rig file options"):
        assert group in result.output
