"""The rig file: a :class:`RunConfig` read from TOML, with command-line flags on top, and back.

A rig file holds the sections of :class:`RunConfig`, every key optional::

    [source]
    addresses = ["zmq+tcp://127.0.0.1:5555"]
    sinks = ["zmq+tcp://127.0.0.1:5556", "session.h5"]

    [decoder]
    engine = "numba"

    [policy]            # present: the loop is closed (an empty table: the default policy)
    on = 0.9

Unknown sections and keys are errors that name them and list the valid ones. Flags override the
file key by key; ``--trigger POLICY.toml`` replaces its ``[policy]`` table.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, TypeVar

from rtdecode.calibration import CalibrationConfig
from rtdecode.config import read_toml
from rtdecode.errors import ConfigError
from rtdecode.live._config import (
    BehaviorConfig,
    CalibrationSection,
    DecoderConfig,
    RunConfig,
    SafetyConfig,
    SourceConfig,
    ViewConfig,
)
from rtdecode.policy import PolicyConfig

__all__ = ["SECTIONS", "load_run_config", "render_toml", "resolve_run_config"]

SECTIONS: dict[str, type] = {
    "source": SourceConfig,
    "decoder": DecoderConfig,
    "behavior": BehaviorConfig,
    "calibration": CalibrationSection,
    "policy": PolicyConfig,
    "safety": SafetyConfig,
    "view": ViewConfig,
}
"""Section name -> its dataclass, in the order a rig file lists them."""

T = TypeVar("T")

_TUPLES = {("source", "addresses"), ("source", "sinks"), ("safety", "outputs")}
_PAIRS = {("decoder", "abstain"), ("policy", "abstain")}


def load_run_config(path: Path | str) -> RunConfig:
    """Read a rig file (see the module description)."""
    return resolve_run_config(read_toml(path), {}, where=f"rig file {path}")


def resolve_run_config(
    rig: dict[str, Any],
    overrides: dict[str, dict[str, Any]],
    *,
    policy_file: Path | None = None,
    trigger: bool = False,
    where: str = "the command line",
) -> RunConfig:
    """The configuration from a rig file's tables with flags on top.

    Parameters
    ----------
    rig
        The rig file's tables (``{}`` without a rig file).
    overrides
        Section -> key -> value, only for the flags given.
    policy_file
        ``--trigger POLICY.toml``: replaces the rig file's ``[policy]`` table.
    trigger
        ``--trigger`` was given: the loop is closed even without a ``[policy]`` table.
    where
        Names the file in error messages.
    """
    unknown = sorted(set(rig) - set(SECTIONS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown section(s) {[f'[{s}]' for s in unknown]}; the sections are "
            f"{[f'[{s}]' for s in SECTIONS]}"
        )
    tables: dict[str, dict[str, Any]] = {}
    for name in SECTIONS:
        table = rig.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{name}] must be a table, got {table!r}")
        tables[name] = {**table, **overrides.get(name, {})}
    closed = trigger or policy_file is not None or "policy" in rig
    if not closed and overrides.get("policy"):
        flags = ", ".join(f"--{key.replace('_', '-')}" for key in sorted(overrides["policy"]))
        raise ConfigError(
            f"{flags} set the trigger policy, but the loop is open: add --trigger (or a [policy] "
            "table to the rig file)"
        )
    if policy_file is not None:
        tables["policy"] = {**read_toml(policy_file), **overrides.get("policy", {})}
        where_policy = f"policy file {policy_file}"
    else:
        where_policy = where
    _share_band(tables, closed)
    for section, key in _TUPLES | _PAIRS:
        value = tables[section].get(key)
        if isinstance(value, list):
            tables[section][key] = tuple(value)
    return RunConfig(
        source=_build(SourceConfig, tables, "source", where),
        decoder=_build(DecoderConfig, tables, "decoder", where),
        behavior=_build(BehaviorConfig, tables, "behavior", where),
        calibration=_calibration(tables["calibration"], where),
        policy=_build(PolicyConfig, tables, "policy", where_policy) if closed else None,
        safety=_build(SafetyConfig, tables, "safety", where),
        view=_build(ViewConfig, tables, "view", where),
    )


def _build(cls: type[T], tables: dict[str, dict[str, Any]], name: str, where: str) -> T:
    """One section's dataclass, naming unknown keys, the section and the file."""
    table = tables[name]
    keys = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(table) - keys)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown} in [{name}]; valid keys are {sorted(keys)}"
        )
    return cls(**table)


def _share_band(tables: dict[str, dict[str, Any]], closed: bool) -> None:
    """One abstain band: a policy's ``abstain`` serves the decoder when the decoder's is not
    set; the decoder's (set or default) is recorded in the policy. With the armed rule (the
    default ``rule``, or ``false_per_min``) in a closed loop the default band is off: the rule's
    threshold is the decision (chosen on scores without a band), and a band around it would
    suppress every crossing near it; a band set explicitly still serves."""
    policy, decoder = tables["policy"], tables["decoder"]
    rule = policy.get("rule", PolicyConfig.rule)
    armed = closed and (rule == "armed" or policy.get("false_per_min") is not None)
    if armed and "abstain" not in policy and "abstain" not in decoder:
        decoder["abstain"] = None
    if "abstain" in policy and "abstain" not in decoder:
        decoder["abstain"] = policy["abstain"]
    elif "abstain" in decoder and "abstain" in policy:
        band = decoder["abstain"]
        if band is not None and tuple(band) != tuple(policy["abstain"]):
            raise ConfigError(
                f"the policy sets abstain {list(policy['abstain'])} but the decoder's band is "
                f"{list(band)}; one band serves the decoder and the policy: drop one of them"
            )
    band = decoder.get("abstain", DecoderConfig.abstain)
    if band is not None and band[0] != band[1]:
        policy["abstain"] = tuple(band)
    else:
        policy.pop("abstain", None)


def _calibration(table: dict[str, Any], where: str) -> CalibrationSection:
    """``[calibration]``: ``enabled`` and ``start_from`` beside the fit's own keys."""
    own = {f.name for f in dataclasses.fields(CalibrationSection)} - {"fit"}
    fit_keys = {f.name for f in dataclasses.fields(CalibrationConfig)}
    unknown = sorted(set(table) - own - fit_keys)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown} in [calibration]; valid keys are "
            f"{sorted(own | fit_keys)}"
        )
    fit = CalibrationConfig(**{k: v for k, v in table.items() if k in fit_keys})
    return CalibrationSection(**{k: v for k, v in table.items() if k in own}, fit=fit)


def _value(value: Any) -> str:
    """One TOML value (tuples as arrays, strings quoted, floats that stay floats)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if value != value else "inf")
    if isinstance(value, (int, str)):
        return json.dumps(value) if isinstance(value, str) else str(value)
    raise TypeError(f"cannot write {value!r} as TOML")


def _table(values: dict[str, Any]) -> list[str]:
    """``key = value`` lines; an unset (``None``) key is shown commented out."""
    return [
        f"# {key} =  (unset)" if value is None else f"{key} = {_value(value)}"
        for key, value in values.items()
    ]


def render_toml(config: RunConfig) -> str:
    """The configuration as a rig file that loads back to the same configuration."""
    lines: list[str] = []
    for name in SECTIONS:
        section = getattr(config, name)
        if section is None:
            lines += [f"# [{name}]  (none: the loop stays open)", ""]
            continue
        values = {f.name: getattr(section, f.name) for f in dataclasses.fields(section)}
        if name == "calibration":
            fit = values.pop("fit")
            values.update({f.name: getattr(fit, f.name) for f in dataclasses.fields(fit)})
        lines += [f"[{name}]", *_table(values), ""]
    return "\n".join(lines)
