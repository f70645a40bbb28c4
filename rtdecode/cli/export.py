"""``rtdecode export``: write a model's inference graph as a single ONNX file."""

from __future__ import annotations

from pathlib import Path

import click

from rtdecode.errors import RtdecodeError

__all__ = ["export"]


@click.command()
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="Model file from 'rtdecode train' (default: the shipped model).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The .onnx file to write."
)
def export(model: Path | None, out: Path) -> None:
    """Export a model to ONNX (dynamic neuron axis, weights embedded, one file)."""
    from rtdecode.models import load_model_file
    from rtdecode.models._export import export_onnx

    try:
        path = export_onnx(load_model_file(model), out)
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB); run it with --engine onnx")
