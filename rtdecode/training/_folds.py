"""LOWO fold models trained once and cached on disk, so calibration experiments reuse them."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from rtdecode.config import PreprocessConfig
from rtdecode.log import get_logger
from rtdecode.models import ModelFile, load_model_file, save_model_file
from rtdecode.training._dataset import Prepared
from rtdecode.training._fit import TrainConfig, train_model

__all__ = ["fold_model"]

_log = get_logger(__name__)


def _key(config: TrainConfig, preprocess: PreprocessConfig, train_ids: list[str]) -> str:
    text = json.dumps(
        [dataclasses.asdict(config), dataclasses.asdict(preprocess), sorted(train_ids)],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def fold_model(
    data: list[Prepared],
    held_out: int,
    config: TrainConfig,
    preprocess: PreprocessConfig,
    cache: Path | None,
    device: str = "cpu",
) -> ModelFile:
    """The recipe trained on every animal but ``data[held_out]``, from ``cache`` when it is there.

    Parameters
    ----------
    data
        Prepared recordings with behaviour.
    held_out
        Index of the held-out animal.
    config, preprocess
        The recipe; with the training animals' ids they key the cache file.
    cache
        Folder of cached fold models (created when missing), or ``None`` to always train.
    device
        Torch device for training.

    Returns
    -------
    ModelFile
    """
    held = data[held_out]
    train = [d for i, d in enumerate(data) if i != held_out]
    path = None
    if cache is not None:
        key = _key(config, preprocess, [d.id for d in train])
        path = Path(cache) / f"seed{config.seed}-{held.id}-{key}.pt"
        if path.exists():
            _log.info("fold %s: cached model %s", held.id, path)
            return load_model_file(path)
    model = train_model(train, config, preprocess, {"held_out": held.id}, device=device)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model_file(model, path)
    return model
