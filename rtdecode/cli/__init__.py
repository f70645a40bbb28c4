"""The ``rtdecode`` command line: one module per command, each imported only when it runs.

``rtdecode --help`` lists the commands from :data:`COMMANDS` without importing any of them, and
a command imports what it uses (torch only where an engine or training needs it), so
``rtdecode replay`` or ``rtdecode keys`` start without loading the decoder.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from rtdecode import __version__
from rtdecode._malloc import limit_malloc_arenas
from rtdecode.log import configure_logging

__all__ = ["COMMANDS", "cli", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "rtdecode.cli.demo:demo",
        "Replay the bundled recording into the decoder and score it.",
    ),
    "run": ("rtdecode.cli.run:run", "Decode live streams and publish predictions until stopped."),
    "replay": ("rtdecode.cli.replay:replay", "Play a recording to a decoder, like a live stream."),
    "report": ("rtdecode.cli.report:report", "Draw a session file as one timeline and a table."),
    "bench": ("rtdecode.cli.bench:bench", "Measure decoding latency through real ZeroMQ."),
    "train": ("rtdecode.cli.train:train", "Train a decoder on all recordings in a folder."),
    "eval": (
        "rtdecode.cli.eval:eval_command",
        "Measure a decoder per recording, leave-one-animal-out.",
    ),
    "export": ("rtdecode.cli.export:export", "Export a model to ONNX."),
    "info": ("rtdecode.cli.data:info", "Describe recordings."),
    "convert": ("rtdecode.cli.data:convert", "Convert a recording between .h5, .npz and .nwb."),
    "keys": ("rtdecode.cli.keys:keys", "Write a CURVE key pair for encrypted ZeroMQ streams."),
}
"""Command name -> (``module:attribute`` of its click command, its one-line help)."""


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name][0].split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their one-line help, importing none of them."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rtdecode")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Decode C. elegans behaviour from whole-brain calcium imaging in real time."""
    configure_logging(("WARNING", "INFO", "DEBUG")[min(verbose, 2)])


def main(args: Any = None) -> None:
    """Entry point of the ``rtdecode`` console script."""
    limit_malloc_arenas()  # before any thread starts: keeps a long run's memory flat
    cli(args)
