"""Options shared by several commands: ``--model``, ``--engine``, ``--threads``, ``--insecure``."""

from __future__ import annotations

from pathlib import Path

import click

from rtdecode.engines import ENGINES

__all__ = ["engine_option", "insecure_option", "model_option", "threads_option"]


threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Intra-op threads of the torch engine. 1 avoids the tail of thread contention "
    "(with 2 threads on a busy 2-core machine, one forward took 25x longer).",
)

model_option = click.option(
    "--model", type=click.Path(path_type=Path), help="Model file (default: shipped)."
)

engine_option = click.option(
    "--engine",
    "engine_name",
    type=click.Choice(ENGINES),
    default="numba",
    show_default=True,
    help="Inference runtime: numba (one fused kernel, the fastest on a CPU; relational_gnn "
    "models only), torch and onnx (references), cuda (NVIDIA GPU).",
)

insecure_option = click.option(
    "--insecure",
    is_flag=True,
    help="Allow a ZeroMQ bind beyond loopback without CURVE keys: anyone who can reach the "
    "port can send frames or read predictions.",
)
