"""``rtdecode info`` and ``rtdecode convert``: look at recordings and convert between formats."""

from __future__ import annotations

from pathlib import Path

import click

from rtdecode.data import bundled_recording, discover_recordings, load_recording
from rtdecode.errors import RtdecodeError

__all__ = ["convert", "info"]


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def info(paths: tuple[Path, ...]) -> None:
    """Describe recordings: files, or folders of them (default: the bundled recording)."""
    try:
        if not paths:
            click.echo(f"bundled: {bundled_recording().summary()}")
            return
        for path in paths:
            files = discover_recordings(path) if path.is_dir() else [path]
            for file in files:
                click.echo(load_recording(file).summary())
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--drop-labels", is_flag=True, help="Remove neuron identities from the copy.")
def convert(source: Path, dest: Path, drop_labels: bool) -> None:
    """Convert recording SOURCE (.h5, .npz, .nwb) into DEST (.npz or .nwb)."""
    try:
        recording = load_recording(source)
        if drop_labels:
            recording = recording.without_labels()
        suffix = dest.suffix.lower()
        if suffix == ".npz":
            from rtdecode.data import write_npz

            write_npz(recording, dest)
        elif suffix == ".nwb":
            from rtdecode.data._nwb import write_nwb

            write_nwb(recording, dest)
        else:
            raise click.BadParameter(
                f"cannot write '{suffix}' files; give DEST a .npz or .nwb suffix", param_hint="DEST"
            )
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(
            f"cannot write {dest} ({exc.strerror or exc}: {exc.filename or dest}); choose a "
            "path in a folder you can write to"
        ) from exc
    click.echo(f"wrote {dest}: {recording.summary()}")
