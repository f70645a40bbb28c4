"""``rtdecode report``: a session file as a timeline and a summary table (HTML or PNG)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rtdecode.data import load_recording
from rtdecode.errors import RtdecodeError
from rtdecode.trigger._report import Session, render_report

__all__ = ["report"]


@click.command()
@click.argument("session", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--recording",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The recording the session decoded (for its tracked behaviour), when the session "
    "file holds none.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="report.html or report.png",
)
@click.option("--json", "as_json", is_flag=True, help="Also print the summary as JSON.")
def report(session: Path, recording: Path | None, out: Path, as_json: bool) -> None:
    """Draw SESSION.h5 (from `rtdecode run --sink`) as one timeline: probability, decision
    ribbon, triggers and suppressed triggers, behaviour when known, latency; plus a table of
    pulses, suppressed by reason, trigger latency and, with behaviour, onsets caught and false
    triggers per minute."""
    try:
        data = Session.read(session)
        if recording is not None:
            rec = load_recording(recording)
            data.with_recording(rec.timestamps, rec.reversal, rec.velocity)
        summary = render_report(data, out)
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"report written to {out}")
    if as_json:
        click.echo(json.dumps(summary, indent=2))
