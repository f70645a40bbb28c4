"""Command-line flags that set :class:`~rtdecode.live.RunConfig` keys, grouped in ``--help``.

A flag names its section and key; its help shows the key's default, read from the config
dataclass (the one place defaults live). Only the flags given on the command line override the
rig file: :func:`given_overrides` collects them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import click

__all__ = [
    "GroupedCommand",
    "deprecated_alias",
    "given_overrides",
    "rig_option",
    "section_default",
]

GROUPS = ("Rig file", "Source", "Decoder", "Behavior", "Calibration", "Trigger", "View", "Output")
"""The groups of ``rtdecode run --help``, in order."""


def section_default(section: str, key: str) -> Any:
    """The default of one key of a :class:`~rtdecode.live.RunConfig` section."""
    from rtdecode.calibration import CalibrationConfig
    from rtdecode.live import SECTIONS

    cls = SECTIONS[section]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if section == "calibration" and key not in fields:
        fields = {f.name: f for f in dataclasses.fields(CalibrationConfig)}
    f = fields[key]
    if f.default is not dataclasses.MISSING:
        return f.default
    factory: Any = f.default_factory
    return factory()


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


class GroupedOption(click.Option):
    """An option that belongs to a help group, and maybe to a config key."""

    def __init__(self, *args: Any, group: str = "Output", target: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.group = group
        self.target: tuple[str, str, Callable[[Any], dict[str, Any]] | None] | None = target


class GroupedCommand(click.Command):
    """A command whose ``--help`` lists its options by group."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        groups: dict[str, list[tuple[str, str]]] = {name: [] for name in GROUPS}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            group = getattr(param, "group", "Output")
            groups.setdefault(group, []).append(record)
        for name, records in groups.items():
            if records:
                with formatter.section(f"{name} options"):
                    formatter.write_dl(records)


def rig_option(
    *decls: str,
    section: str | None = None,
    key: str | None = None,
    convert: Callable[[Any], dict[str, Any]] | None = None,
    group: str | None = None,
    help: str,
    show_default: bool = True,
    **kwargs: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A flag for ``section.key`` (shown with its default), or a plain grouped option.

    Parameters
    ----------
    decls
        The flag's names and its parameter name, as for :func:`click.option`.
    section, key
        The configuration key it sets (``None``: a flag of the command itself).
    convert
        Turns the flag's value into the section's keys and values (default: ``{key: value}``).
    group
        Its ``--help`` group (default: the section's).
    help
        What it does; the key's default is appended.
    """
    target = None
    if section is not None and key is not None:
        target = (section, key, convert)
        default = section_default(section, key)
        if show_default and isinstance(default, bool) and decls[0].startswith("--no-"):
            help = f"{help} [{section}.{key} is {_shown(default)} unless given]"
        else:
            shown = f"default: {_shown(default)}; " if show_default else ""
            help = f"{help} [{shown}{section}.{key}]"
    return click.option(
        *decls,
        cls=GroupedOption,
        group=group or (section or "output").capitalize(),
        target=target,
        help=help,
        **kwargs,
    )


def deprecated_alias(
    old: str, name: str, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A hidden old spelling of a flag; :func:`given_overrides` maps it to the new one."""
    return click.option(old, name, hidden=True, help="Deprecated spelling.", **kwargs)


def given_overrides(
    ctx: click.Context, values: dict[str, Any], aliases: Sequence[tuple[str, str]] = ()
) -> dict[str, dict[str, Any]]:
    """Section -> key -> value for the flags given on the command line.

    Parameters
    ----------
    ctx
        The command's context (it knows where each value came from).
    values
        The command's parameters.
    aliases
        ``(old name, new name)`` of deprecated spellings: a given old one counts as the new.
    """
    for old, new in aliases:
        if values.get(old) is not None and _given(ctx, old):
            flags = {p.name: p.opts[0] for p in ctx.command.params if isinstance(p, click.Option)}
            click.echo(f"warning: {flags[old]} is deprecated; use {flags[new]}", err=True)
            values[new] = values[old]
            ctx.set_parameter_source(new, click.core.ParameterSource.COMMANDLINE)
    overrides: dict[str, dict[str, Any]] = {}
    for param in ctx.command.params:
        target = getattr(param, "target", None)
        if target is None or param.name is None or not _given(ctx, param.name):
            continue
        section, key, convert = target
        value = values[param.name]
        keys = {key: value} if convert is None else convert(value)
        overrides.setdefault(section, {}).update(keys)
    return overrides


def _given(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source in (
        click.core.ParameterSource.COMMANDLINE,
        click.core.ParameterSource.ENVIRONMENT,
    )
