"""Named training recipes: the GNN (with and without identities) and the baselines."""

from __future__ import annotations

from dataclasses import replace

from rtdecode.errors import ConfigError
from rtdecode.training._fit import TrainConfig

__all__ = ["PRESETS", "preset"]

_GNN = TrainConfig(epochs=60, label_dropout=0.25)
_IDENTIFIED = TrainConfig(
    epochs=12,
    use_labels=True,
    label_dropout=0.0,
    aux_weight=0.0,
    neuron_keep=0.9,
    label_min_animals=None,
)

PRESETS: dict[str, TrainConfig] = {
    "gnn": _GNN,
    "gnn-nolabels": replace(_GNN, use_labels=False),
    "logreg": replace(_IDENTIFIED, architecture="identified_linear", hyperparameters={}),
    "mlp": replace(_IDENTIFIED, architecture="identified_mlp", hyperparameters={}),
    "gru": replace(_IDENTIFIED, architecture="identified_gru", hyperparameters={}),
    "deepsets": replace(
        _GNN,
        architecture="deepsets",
        hyperparameters={},
        use_labels=False,
        aux_weight=0.0,
        epochs=12,
    ),
}


def preset(name: str, **overrides: object) -> TrainConfig:
    """The training recipe called ``name``, with fields overridden (for example ``epochs``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown model recipe '{name}'; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides)  # type: ignore[arg-type]
