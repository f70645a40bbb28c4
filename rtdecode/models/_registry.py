"""Network constructors by architecture name, so a model file can name the class it needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from rtdecode.errors import ModelError
from rtdecode.models._baselines import DeepSets, IdentifiedGRU, IdentifiedLinear, IdentifiedMLP
from rtdecode.models._gnn import RelationalGNN

__all__ = ["ARCHITECTURES", "build_network"]

ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "relational_gnn": RelationalGNN,
    "identified_linear": IdentifiedLinear,
    "identified_mlp": IdentifiedMLP,
    "identified_gru": IdentifiedGRU,
    "deepsets": DeepSets,
}


def build_network(architecture: str, hyperparameters: dict[str, Any]) -> nn.Module:
    """Construct an untrained network of a registered architecture."""
    try:
        factory = ARCHITECTURES[architecture]
    except KeyError as exc:
        raise ModelError(
            f"unknown model architecture '{architecture}'; this rtdecode knows "
            f"{sorted(ARCHITECTURES)}: upgrade rtdecode or retrain the model"
        ) from exc
    return factory(**hyperparameters)
