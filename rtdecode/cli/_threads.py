"""The ``--threads`` option: intra-op threads of the inference runtime in this process."""

from __future__ import annotations

import click
import torch

__all__ = ["threads_option"]


def _set_threads(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value < 1:
        raise click.BadParameter(f"needs at least 1 thread, got {value}")
    torch.set_num_threads(value)
    return value


threads_option = click.option(
    "--threads",
    default=1,
    show_default=True,
    callback=_set_threads,
    help="Intra-op threads of the torch engine. 1 avoids the tail of thread contention "
    "(with 2 threads on a busy 2-core machine, one forward took 25x longer).",
)
