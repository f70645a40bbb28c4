"""``rtdecode eval``: a model on every recording in a folder, or the LOWO protocol."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from rtdecode.cli._calibrate_eval import echo_failed_folds
from rtdecode.cli._progress import progress_option, status_line
from rtdecode.cli.train import ray_option, recipe_options
from rtdecode.errors import RtdecodeError

__all__ = ["eval_command"]


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(report: dict[str, Any]) -> str:
    from rtdecode.cli._headings import heading
    from rtdecode.training._evaluate import METRIC_KEYS

    keys = ("frames", *(k for k in METRIC_KEYS if not k.startswith("lag_median_")))
    rows = [(entry["id"], [_fmt(entry.get(k)) for k in keys]) for entry in report["recordings"]]
    rows.append(("mean", ["", *(_fmt(report.get("mean_" + k)) for k in keys[1:])]))
    heads = [heading(k) for k in keys]
    # every column as wide as its widest cell, heading included, plus two spaces: nothing is
    # cut and no two cells run together
    widths = [2 + max(len(h), *(len(cells[j]) for _, cells in rows)) for j, h in enumerate(heads)]
    first = max(len("recording"), *(len(name) for name, _ in rows)) + 1
    lines = [
        f"{'recording':<{first}}" + "".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True))
    ]
    for name, cells in rows:
        lines.append(
            f"{name:<{first}}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
        )
    return "\n".join(lines)


@click.command("eval")
@click.option(
    "--data", type=click.Path(path_type=Path), required=True, help="Folder of recordings."
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="Model file to evaluate as is (default: the shipped model). Not with --protocol.",
)
@click.option(
    "--protocol",
    type=click.Choice(["lowo"]),
    default=None,
    help="lowo: leave one animal out, training the --recipe on the others for each.",
)
@click.option("--no-labels", is_flag=True, help="Ignore neuron identities in DATA.")
@click.option(
    "--json", "json_out", type=click.Path(path_type=Path), default=None, help="Write the report."
)
@click.option(
    "--calibrate",
    "calibrate",
    default=None,
    metavar="S[,S...]",
    help="Simulate sessions that calibrate on each recording's first S seconds of behaviour "
    "(e.g. 60,120,180,300) and score the frames after them: the calibrated decoder (head fit "
    "as is and with both states weighted equally), the shipped model and a per-animal "
    "logistic regression.",
)
@click.option(
    "--abstain",
    default="0.4,0.6",
    show_default=True,
    metavar="LO,HI",
    help="With --calibrate: reversal probabilities inside this band are 'uncertain' (coverage).",
)
@click.option(
    "--fold-cache",
    type=click.Path(path_type=Path),
    default=None,
    help="With --protocol lowo: keep trained fold models here and reuse them (keyed by recipe, "
    "seed and held-out animal).",
)
@click.option(
    "--save-predictions",
    type=click.Path(path_type=Path),
    default=None,
    metavar="DIR",
    help="Write each recording's decisions to DIR/<recording id>.npz (t, p, uncertain, "
    "fire_t, reversal, scored_from_s; rescore with rtdecode.decisions.rescore): with "
    "--calibrate, what 'rtdecode run' would decide by default; other methods and settings "
    "(without identities, the velocity baseline, ...) as DIR/<recording id>.<method>.npz.",
)
@recipe_options
@ray_option
@progress_option
def eval_command(
    data: Path,
    model: Path | None,
    protocol: str | None,
    no_labels: bool,
    json_out: Path | None,
    calibrate: str | None,
    abstain: str,
    fold_cache: Path | None,
    save_predictions: Path | None,
    recipe: str,
    epochs: int | None,
    seed: int | None,
    ray: str | None,
) -> None:
    """Measure a decoder per recording: per frame (balanced accuracy, AUROC, F1) and per event
    (reversal onsets caught by the default trigger policy within +1.2 s and +2.4 s, all and
    sustained onsets, false triggers per minute; docs/event-scoring.md), beside a velocity-only
    trigger whose threshold is chosen on the other recordings."""
    if ray is not None and protocol != "lowo":
        raise click.UsageError("--ray runs the folds of --protocol lowo; add --protocol lowo")
    if calibrate is not None:
        from rtdecode.cli._calibrate_eval import calibrate_eval

        options = (data, model, protocol, no_labels, json_out, calibrate, abstain, fold_cache)
        calibrate_eval(*options, save_predictions, recipe, epochs, seed, ray)
        return
    from rtdecode.models import load_model_file
    from rtdecode.training._evaluate import evaluate_model, summarise
    from rtdecode.training._load import prepare_readable
    from rtdecode.training._velocity import velocity_report

    try:
        if protocol == "lowo":
            if model is not None:
                raise click.UsageError("--model and --protocol lowo exclude each other")
            overrides = {k: v for k, v in (("epochs", epochs), ("seed", seed)) if v is not None}
            prepared, unreadable, report = _lowo(
                data, recipe, overrides, no_labels, fold_cache, save_predictions, ray
            )
        else:
            loaded = load_model_file(model)
            prepared, unreadable = prepare_readable(data, loaded.preprocess, need_behaviour=False)
            _echo_unreadable(unreadable)
            entries = evaluate_model(
                loaded, prepared, not no_labels, save_predictions, status_line()
            )
            report = summarise(
                entries, protocol="model", model=str(model or "default"), labels=not no_labels
            )
        velocity = velocity_report(prepared, report["recordings"], save_dir=save_predictions)
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    report["unreadable"] = unreadable
    status_line().done()
    _finish(report, velocity, json_out, data)


def _finish(
    report: dict[str, Any], velocity: dict[str, Any] | None, json_out: Path | None, data: Path
) -> None:
    """Print the tables, write the JSON, and exit non-zero when nothing was scored, a
    recording could not be read or a fold failed."""
    click.echo(_table(report))
    if "without_labels" in report:
        click.echo("without identities:")
        click.echo(_table(report["without_labels"]))
    if velocity is not None:
        report["velocity_baseline"] = velocity
        click.echo("velocity-only trigger (threshold chosen on the other recordings):")
        click.echo(_table(velocity))
    if report["unscored"]:
        click.echo(f"not scored (shorter than the window): {', '.join(report['unscored'])}")
    scored = [entry for entry in report["recordings"] if entry.get("frames")]
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2, default=_jsonable))
        click.echo(f"wrote {json_out}")
    echo_failed_folds(report.get("failed", []))
    if not scored:
        raise click.ClickException(
            f"nothing was scored: no recording in {data} had a frame to score (each must be "
            "longer than the model's window and carry behaviour); see the lines above"
        )
    if report["unreadable"] or report.get("failed"):
        raise SystemExit(1)  # listed above, and in the JSON


def _lowo(
    data: Path,
    recipe: str,
    overrides: dict[str, Any],
    no_labels: bool,
    fold_cache: Path | None,
    save_predictions: Path | None,
    ray: str | None,
) -> tuple[list[Any], list[dict[str, str]], dict[str, Any]]:
    """Leave-one-animal-out of ``recipe`` over the recordings in ``data``: what was prepared,
    what could not be read, and the report (``ray``: where the folds run, see ``--ray``)."""
    from rtdecode.preprocess import PreprocessConfig
    from rtdecode.training._evaluate import lowo
    from rtdecode.training._load import prepare_readable
    from rtdecode.training._parallel import Runner
    from rtdecode.training._presets import preset

    config = preset(recipe, **overrides)
    if no_labels and config.use_labels:
        config = preset(recipe, use_labels=False, **overrides)
    preprocess = PreprocessConfig()
    prepared, unreadable = prepare_readable(data, preprocess, need_behaviour=True)
    _echo_unreadable(unreadable)
    if len(prepared) < 2:
        raise click.ClickException(
            f"LOWO needs at least two recordings with behaviour (one per animal) in "
            f"{data}, found {len(prepared)}; add recordings, or evaluate a trained model "
            "on them with 'rtdecode eval --model MODEL'"
        )
    click.echo(f"LOWO of '{recipe}' over {len(prepared)} animals")
    with Runner(ray) as runner:
        report = lowo(
            prepared,
            config,
            preprocess,
            progress=status_line(),
            cache=fold_cache,
            save_dir=save_predictions,
            runner=runner,
        )
    report["recipe_name"] = recipe
    return prepared, unreadable, report


def _echo_unreadable(unreadable: list[dict[str, str]]) -> None:
    if unreadable:
        n = len(unreadable)
        click.echo(f"{n} file{'s' * (n != 1)} could not be read (left out):", err=True)
        for entry in unreadable:
            click.echo(f"  {entry['error']}", err=True)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)
