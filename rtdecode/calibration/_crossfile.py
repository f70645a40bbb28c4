"""The fused decision's cross-animal part on disk: one ``.npz`` a live decoder loads.

:func:`save_cross_model` writes a :class:`~rtdecode.calibration.CrossModel` (its heads as arrays,
its settings as JSON) and :func:`load_cross_model` reads it back, checking every field is there.
``tools/fit_cross_model.py`` fits one on recordings with behaviour (every choice by
leave-one-animal-out over them) and ``rtdecode run --fused MODEL.npz`` uses it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from rtdecode.calibration._decision import CrossModel
from rtdecode.calibration._head import CalibrationConfig, Head
from rtdecode.calibration._roles import RoleConfig
from rtdecode.errors import ConfigError

__all__ = ["SHIPPED_CROSS", "load_cross_model", "save_cross_model", "shipped_cross_model"]

_FORMAT = "rtdecode.cross-model/1"
SHIPPED_CROSS = "cross-model.npz"
"""The shipped fused decision's cross-animal part (``tools/fit_cross_model.py`` on the six
training recordings, no identities), in ``rtdecode/resources``."""
_HEADS = ("state", "onset", "fusion")


def save_cross_model(path: Path | str, model: CrossModel, about: dict[str, object]) -> None:
    """Write ``model`` to ``path`` (``.npz``), with ``about`` (how it was fit) as JSON."""
    heads = _HEADS + (("behavior",) if model.behavior is not None else ())
    arrays = {f"{name}_weights": getattr(model, name).weights for name in heads}
    settings = {
        "format": _FORMAT,
        "roles": dataclasses.asdict(model.roles),
        "names": list(model.names),
        "biases": {name: float(getattr(model, name).bias) for name in heads},
        "head": dataclasses.asdict(model.head),
        "onset_c": model.onset_c,
        "min_onsets": model.min_onsets,
        "fusion_lags": model.fusion_lags,
        "about": about,
    }
    np.savez(Path(path), settings=np.array(json.dumps(settings)), **arrays)


def load_cross_model(path: Path | str) -> tuple[CrossModel, dict[str, object]]:
    """The cross-animal part in ``path`` and how it was fit; a clear error for anything else."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            settings = json.loads(str(data["settings"]))
            heads: dict[str, Head | None] = {
                name: Head(
                    np.asarray(data[f"{name}_weights"], np.float64), settings["biases"][name]
                )
                for name in (*_HEADS, "behavior")
                if name in _HEADS or "behavior_weights" in data.files
            }
        if settings.get("format") != _FORMAT:
            raise KeyError("format")
        roles = dict(settings["roles"])
        roles["diffs_s"] = tuple(roles["diffs_s"])
        model = CrossModel(
            roles=RoleConfig(**roles),
            names=tuple(settings["names"]),
            head=CalibrationConfig(**settings["head"]),
            onset_c=float(settings["onset_c"]),
            min_onsets=int(settings["min_onsets"]),
            fusion_lags=int(settings["fusion_lags"]),
            **heads,  # type: ignore[arg-type]
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a fused decision's cross-animal model ({exc}); fit one with "
            "tools/fit_cross_model.py"
        ) from exc
    return model, dict(settings.get("about", {}))


def shipped_cross_model() -> CrossModel:
    """The shipped cross-animal part (:data:`SHIPPED_CROSS`)."""
    from importlib import resources

    with resources.as_file(resources.files("rtdecode") / "resources" / SHIPPED_CROSS) as path:
        model, _ = load_cross_model(path)
    return model
