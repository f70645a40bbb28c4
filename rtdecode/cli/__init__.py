"""The ``rtdecode`` command line: one module per command, registered here."""

from __future__ import annotations

import click

from rtdecode import __version__
from rtdecode._malloc import limit_malloc_arenas
from rtdecode.cli.bench import bench
from rtdecode.cli.data import convert, info
from rtdecode.cli.demo import demo
from rtdecode.cli.eval import eval_command
from rtdecode.cli.export import export
from rtdecode.cli.keys import keys
from rtdecode.cli.replay import replay
from rtdecode.cli.report import report
from rtdecode.cli.run import run
from rtdecode.cli.train import train
from rtdecode.cli.view import view
from rtdecode.log import configure_logging

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rtdecode")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Decode C. elegans behaviour from whole-brain calcium imaging in real time."""
    configure_logging(("WARNING", "INFO", "DEBUG")[min(verbose, 2)])


for command in (
    demo,
    run,
    replay,
    report,
    bench,
    train,
    eval_command,
    export,
    info,
    convert,
    keys,
    view,
):
    cli.add_command(command)


def main() -> None:
    """Entry point of the ``rtdecode`` console script."""
    limit_malloc_arenas()  # before any thread starts: keeps a long run's memory flat
    cli()
