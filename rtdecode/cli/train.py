"""``rtdecode train``: fit a decoder on every recording in a folder and save the model file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from rtdecode.cli._progress import progress_option, status_line
from rtdecode.errors import RtdecodeError

__all__ = ["recipe_options", "train"]

F = TypeVar("F", bound=Callable[..., Any])


def recipe_options(command: F) -> F:
    """The options that choose and adjust a training recipe (shared with ``eval``)."""
    from rtdecode.training._presets import PRESETS

    for option in reversed(
        [
            click.option(
                "--recipe",
                type=click.Choice(sorted(PRESETS)),
                default="gnn",
                show_default=True,
                help="Model to train: the GNN or a baseline.",
            ),
            click.option("--epochs", type=click.IntRange(1), default=None, help="Override epochs."),
            click.option("--seed", type=int, default=None, help="Override the random seed."),
        ]
    ):
        command = option(command)
    return command


@click.command()
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder of recordings with behaviour.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Model file to write.")
@recipe_options
@progress_option
def train(data: Path, out: Path, recipe: str, epochs: int | None, seed: int | None) -> None:
    """Train a decoder on all recordings in DATA and write it to OUT."""
    from rtdecode.models import save_model_file
    from rtdecode.preprocess import PreprocessConfig
    from rtdecode.training import train_model
    from rtdecode.training._load import prepare_folder
    from rtdecode.training._presets import preset

    overrides = {k: v for k, v in (("epochs", epochs), ("seed", seed)) if v is not None}
    try:
        config = preset(recipe, **overrides)
        preprocess = PreprocessConfig()
        prepared = prepare_folder(data, preprocess, need_behaviour=True)
        click.echo(f"training '{recipe}' on {len(prepared)} recordings ({config.epochs} epochs)")
        status = status_line()
        model = train_model(
            prepared,
            config,
            preprocess,
            {"recipe": recipe, "data": str(data)},
            progress=status,
        )
        status.done()
        path = save_model_file(model, out)
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB) in {model.training['seconds']} s"
    )
