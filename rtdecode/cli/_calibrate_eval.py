"""``rtdecode eval --calibrate``: simulated self-calibrating sessions, one table for all lengths."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from rtdecode.cli._progress import status_line
from rtdecode.errors import RtdecodeError

__all__ = ["calibrate_eval", "echo_failed_folds", "parse_band", "parse_seconds"]


def parse_seconds(text: str) -> list[float]:
    """``"60,120"`` -> ``[60.0, 120.0]``; each must be positive."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"--calibrate takes seconds like 60,120,180: {exc}") from exc
    if not values or min(values) <= 0:
        raise click.BadParameter(f"--calibrate needs positive seconds, got '{text}'")
    return values


def parse_band(text: str) -> tuple[float, float]:
    """Parse ``--abstain LO,HI``: ``"0.4,0.6"`` -> ``(0.4, 0.6)``.

    Parameters
    ----------
    text
        Two comma-separated probabilities.

    Returns
    -------
    tuple of float
        ``(LO, HI)`` as given, with ``0 <= LO <= HI <= 1`` (``LO = HI`` means no band; the caller
        decides what that turns off).

    Raises
    ------
    click.BadParameter
        When the text is not two numbers or they are out of order or outside 0..1.
    """
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"--abstain takes LO,HI like 0.4,0.6, got '{text}'") from exc
    if not 0.0 <= lo <= hi <= 1.0:
        raise click.BadParameter(f"--abstain needs 0 <= LO <= HI <= 1, got '{text}'")
    return lo, hi


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rtdecode.calibration._evaluate import MEAN_KEYS
    from rtdecode.cli._headings import heading

    status_line().done()  # the progress line, cleared before the table
    columns = [
        c
        for c in MEAN_KEYS
        if any(f"mean_{c}" in r for r in rows) and not c.startswith("lag_median_")
    ]
    # each column as wide as its heading or widest value, plus two spaces: nothing is cut
    widths = [
        2 + max(len(heading(c)), *(len(_fmt(r.get("mean_" + c))) for r in rows)) for c in columns
    ]
    method_w = max(len("method"), *(len(r["method"]) for r in rows)) + 1
    click.echo(
        f"{'ids':<5}{'S':>6} {'method':<{method_w}}"
        + "".join(f"{heading(c):>{w}}" for c, w in zip(columns, widths, strict=True))
    )
    for r in rows:
        cells = "".join(
            f"{_fmt(r.get('mean_' + c)):>{w}}" for c, w in zip(columns, widths, strict=True)
        )
        chosen = f"  heads {r['heads_chosen']}/{r['recordings']}" if "heads_chosen" in r else ""
        label = "yes" if r["labels"] else "no"
        click.echo(f"{label:<5}{r['seconds']:>6.0f} {r['method']:<{method_w}}{cells}{chosen}")


def _velocity(
    prepared: list[Any],
    entries: list[dict[str, Any]],
    seconds: list[float],
    band: tuple[float, float],
    save_dir: Path | None,
) -> dict[float, dict[str, Any]]:
    """Per calibration length, the velocity-only trigger scored on the sessions' frames."""
    from rtdecode.policy import PolicyConfig
    from rtdecode.training._velocity import velocity_report

    out = {}
    for s in seconds:
        same = [e for e in entries if e["seconds"] == s and e["method"] == "calibrated"]
        report = velocity_report(
            prepared, same, PolicyConfig(abstain=band), save_dir, f"velocity-{s:g}s"
        )
        if report is not None:
            out[s] = report
    return out


def echo_failed_folds(failed: list[dict[str, str]]) -> None:
    """Print each failed fold (``id``, ``error``) on stderr; they are left out of the results."""
    for fold in failed:
        click.echo(f"fold {fold['id']} failed (left out of the results): {fold['error']}", err=True)


def calibrate_eval(
    data: Path,
    model: Path | None,
    protocol: str | None,
    no_labels: bool,
    json_out: Path | None,
    calibrate: str,
    abstain: str,
    fold_cache: Path | None,
    save_predictions: Path | None,
    recipe: str,
    epochs: int | None,
    seed: int | None,
    ray: str | None = None,
) -> None:
    """Run ``rtdecode eval --calibrate`` (arguments as the command's options)."""
    from rtdecode.calibration import CalibrationConfig, calibrate_lowo, calibrate_model
    from rtdecode.calibration._evaluate import calibration_table
    from rtdecode.config import PreprocessConfig
    from rtdecode.models import load_model_file
    from rtdecode.training._load import prepare_folder
    from rtdecode.training._parallel import Runner
    from rtdecode.training._presets import preset

    seconds = parse_seconds(calibrate)
    band = parse_band(abstain)
    config = CalibrationConfig()
    failed: list[dict[str, str]] = []
    try:
        if protocol == "lowo":
            if model is not None:
                raise click.UsageError("--model and --protocol lowo exclude each other")
            overrides = {k: v for k, v in (("epochs", epochs), ("seed", seed)) if v is not None}
            recipe_config = preset(recipe, **overrides)
            preprocess = PreprocessConfig()
            prepared = prepare_folder(data, preprocess, need_behaviour=True)
            click.echo(f"LOWO of '{recipe}' over {len(prepared)} animals, calibrating {seconds} s")
            inputs = (prepared, recipe_config, preprocess, seconds, config, band, fold_cache)
            with Runner(ray) as runner:
                entries, failed = calibrate_lowo(*inputs, status_line(), save_predictions, runner)
        else:
            loaded = load_model_file(model)
            prepared = prepare_folder(data, loaded.preprocess, need_behaviour=True)
            entries = calibrate_model(
                loaded, prepared, seconds, config, band, not no_labels, save_predictions
            )
        velocity = _velocity(prepared, entries, seconds, band, save_predictions)
    except RtdecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = calibration_table(entries)
    for s, summary in velocity.items():
        row = {
            "labels": False,
            "seconds": s,
            "method": "velocity",
            "recordings": len(summary["recordings"]),
        }
        means = {k: v for k, v in summary.items() if k.startswith("mean_")}
        rows.append(row | means | {"lags": summary["lags"]})
    _print_table(rows)
    if json_out is not None:
        report = {
            "protocol": f"{protocol or 'model'}-calibrate",
            "model": None if protocol == "lowo" else str(model or "default"),
            "recipe_name": recipe if protocol == "lowo" else None,
            "calibrate_s": seconds,
            "abstain": list(band),
            "calibration": dataclasses.asdict(config),
            "table": rows,
            "recordings": entries,
            "failed": failed,
            "velocity_baseline": {f"{s:g}": v for s, v in velocity.items()},
        }
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2, default=float))
        click.echo(f"wrote {json_out}")
    echo_failed_folds(failed)
    if failed:
        raise SystemExit(1)
