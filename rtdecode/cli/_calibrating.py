"""``rtdecode run``'s ``--calibrate``, ``--calibration-from`` and ``--abstain``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rtdecode.calibration import CalibrationConfig
from rtdecode.cli._calibrate_eval import parse_band
from rtdecode.errors import ConfigError
from rtdecode.live import LiveCalibration
from rtdecode.log import get_logger

__all__ = ["DEFAULT_BAND", "abstain_band", "live_calibration"]

_log = get_logger(__name__)

DEFAULT_BAND = (0.4, 0.6)
"""The abstain band when neither ``--abstain`` nor a policy file sets one (as ``eval``)."""


def abstain_band(text: str | None, policy: Any) -> tuple[tuple[float, float] | None, Any]:
    """One abstain band for the decoder's ``uncertain`` output and the trigger policy.

    ``--abstain`` wins; without it a policy file's ``abstain`` serves both, else
    :data:`DEFAULT_BAND`. A policy file whose band differs from ``--abstain`` is an error.

    Returns
    -------
    tuple
        The band (``None``: off, for ``LO = HI``) and the policy with that band (or ``None``).
    """
    band: tuple[float, float] | None
    if text is not None:
        band = parse_band(text)
        if policy is not None and policy.abstain not in (None, band):
            raise ConfigError(
                f"the policy file sets abstain {list(policy.abstain)} but --abstain is {text}; "
                "one band serves the decoder and the policy: drop one of them"
            )
    elif policy is not None and policy.abstain is not None:
        band = policy.abstain
    else:
        band = DEFAULT_BAND
    if band is not None and band[0] == band[1]:
        band = None
    if policy is not None:
        policy = policy.with_overrides(abstain=band) if band else policy
    return band, policy


def live_calibration(
    seconds: float,
    earlier: Path | None,
    model: Path | None,
    states: tuple[str, ...],
    frame_interval_s: float | None,
) -> LiveCalibration | None:
    """Self-calibration for ``rtdecode run`` (``None`` with ``--calibrate 0``)."""
    if seconds == 0:
        if earlier is not None:
            raise ConfigError(
                "--calibration-from needs self-calibration on: drop --calibrate 0 (the earlier "
                "head decodes from the first frame while this session calibrates too)"
            )
        return None
    config = CalibrationConfig(seconds=seconds)
    start = None
    if earlier is not None:
        from rtdecode.calibration import earlier_head
        from rtdecode.models import load_model_file

        if not earlier.exists():
            raise ConfigError(f"--calibration-from {earlier} does not exist")
        start = earlier_head(earlier, load_model_file(model), config)
        _log.info("the head from %s decodes from the first frame", earlier)
    return LiveCalibration(
        config, states, frame_interval_s, start, None if earlier is None else str(earlier)
    )
