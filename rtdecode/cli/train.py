"""``rtdecode train``: fit a decoder on every recording in a folder and save the model file."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import click

from rtdecode.cli._progress import progress_option, status_line
from rtdecode.errors import RtdecodeError

__all__ = ["ray_option", "recipe_options", "train"]

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


def ray_option(command: F) -> F:
    """``--ray auto|local|ADDRESS``: run the heavy offline work as Ray tasks (docs/cluster.md)."""
    return click.option(
        "--ray",
        default=None,
        metavar="auto|local|ADDRESS",
        help="Run as Ray tasks (needs 'pip install rtdecode[cluster]'): 'local' starts a Ray "
        "runtime on this machine, 'auto' joins the running cluster (else starts one), ADDRESS "
        "joins that cluster. Default: in this process. See docs/cluster.md.",
    )(command)


@click.command()
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder of recordings with behaviour.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Model file to write.")
@recipe_options
@ray_option
@progress_option
def train(
    data: Path, out: Path, recipe: str, epochs: int | None, seed: int | None, ray: str | None
) -> None:
    """Train a decoder on all recordings in DATA and write it to OUT (with --ray, as one Ray
    task, for example on a cluster node with more cores)."""
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
        metadata = {"recipe": recipe, "data": str(data)}
        if ray is None:
            status = status_line()
            model = train_model(prepared, config, preprocess, metadata, progress=status)
            status.done()
        else:
            fit = partial(train_model, preprocess=preprocess, metadata=metadata)
            model = _train_on_ray(ray, prepared, config, fit)
        path = save_model_file(model, out)
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB) in {model.training['seconds']} s"
    )


def _train_on_ray(ray: str, prepared: list[Any], config: Any, fit: Callable[..., Any]) -> Any:
    """``fit(prepared, config)`` as one Ray task; its error, if any, as a click error."""
    from rtdecode.training._parallel import Runner

    with Runner(ray) as runner:
        outcome = runner.map(fit, [config], prepared, names=["model"], what="models", echo=None)
    if outcome.failures:
        raise click.ClickException(f"training failed on Ray: {outcome.failures[0].error}")
    return outcome.results[0]
