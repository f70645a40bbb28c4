"""``rtdecode keys``: make a CURVE key pair for encrypted, authenticated ZeroMQ streams."""

from __future__ import annotations

from pathlib import Path

import click
import zmq.auth

__all__ = ["keys"]


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--name", default="rtdecode", show_default=True, help="File name stem of the key pair."
)
def keys(folder: Path, name: str) -> None:
    """Write a CURVE key pair into FOLDER: NAME.key (public) and NAME.key_secret (private).

    Give NAME.key_secret to this side's addresses (?key=...), NAME.key to the other side:
    into the folder of allowed clients (?clients=DIR) of a server, or as ?server_key=... of
    a client. See "Who may connect" in docs/connecting.md.
    """
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    if public.exists() or secret.exists():
        raise click.ClickException(
            f"'{public}' or '{secret}' exists already; pick another --name or folder"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        made_public, made_secret = zmq.auth.create_certificates(str(folder), name)
        Path(made_secret).chmod(0o600)
    except OSError as exc:
        raise click.ClickException(f"cannot write keys into '{folder}' ({exc})") from exc
    click.echo(f"public key (give to the other side): {made_public}")
    click.echo(f"secret key (keep here, ?key=...):    {made_secret}")
