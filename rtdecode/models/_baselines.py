"""Baselines that show what the graph adds, with the same inputs and outputs as the GNN.

``IdentifiedLinear``/``IdentifiedMLP``/``IdentifiedGRU`` see only neurons whose NeuroPAL name is
in their vocabulary (the names shared by every training animal), gathered into fixed slots by
name; a slot whose neuron is missing is zero. ``DeepSets`` ignores identities: a per-neuron
encoder, then mean and max pooling over neurons (torch-geometric's ``MultiAggregation``).
Each returns ``(logits, role)`` like :class:`~rtdecode.models.RelationalGNN`, with ``role``
all zero.
"""

from __future__ import annotations

import torch
from torch import nn

from rtdecode.models._features import N_STATS, node_features

__all__ = ["DeepSets", "IdentifiedGRU", "IdentifiedLinear", "IdentifiedMLP"]


def _slots(values: torch.Tensor, label_ids: torch.Tensor, n_labels: int) -> torch.Tensor:
    """Gather per-neuron ``(B, n, D)`` values into ``(B, n_labels, D)`` slots by name id."""
    onehot = nn.functional.one_hot(label_ids, n_labels + 1).to(values.dtype)[..., 1:]
    return onehot.transpose(1, 2) @ values


class _Identified(nn.Module):
    """Shared plumbing: node features of the identified neurons, flattened by slot."""

    def __init__(self, window: int, n_features: int, n_labels: int, recent: int) -> None:
        super().__init__()
        if n_labels < 1:
            raise ValueError("an identified-neuron baseline needs a label vocabulary")
        self.n_labels = n_labels
        self.recent = min(recent, window)
        self.in_dim = n_labels * (self.recent * (n_features + 1) + N_STATS)

    def slots(self, x: torch.Tensor, valid: torch.Tensor, label_ids: torch.Tensor) -> torch.Tensor:
        feats = node_features(x, valid, self.recent)
        return _slots(feats, label_ids, self.n_labels).flatten(1)

    @staticmethod
    def _no_role(label_ids: torch.Tensor) -> torch.Tensor:
        return torch.zeros(label_ids.shape, dtype=torch.float32, device=label_ids.device)


class IdentifiedLinear(_Identified):
    """Logistic regression on the identified neurons' recent activity and window statistics."""

    def __init__(
        self, window: int, n_features: int, n_labels: int, recent: int = 4, n_states: int = 2
    ) -> None:
        super().__init__(window, n_features, n_labels, recent)
        self.linear = nn.Linear(self.in_dim, n_states)

    def forward(
        self, x: torch.Tensor, valid: torch.Tensor, label_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """See :meth:`RelationalGNN.forward`."""
        return self.linear(self.slots(x, valid, label_ids)), self._no_role(label_ids)


class IdentifiedMLP(_Identified):
    """A two-layer perceptron on the same inputs as :class:`IdentifiedLinear`."""

    def __init__(
        self,
        window: int,
        n_features: int,
        n_labels: int,
        recent: int = 4,
        hidden: int = 64,
        n_states: int = 2,
    ) -> None:
        super().__init__(window, n_features, n_labels, recent)
        self.mlp = nn.Sequential(
            nn.Linear(self.in_dim, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, n_states)
        )

    def forward(
        self, x: torch.Tensor, valid: torch.Tensor, label_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """See :meth:`RelationalGNN.forward`."""
        return self.mlp(self.slots(x, valid, label_ids)), self._no_role(label_ids)


class IdentifiedGRU(nn.Module):
    """A GRU over the window's frames, each frame the identified neurons' features by slot."""

    def __init__(
        self, window: int, n_features: int, n_labels: int, hidden: int = 32, n_states: int = 2
    ) -> None:
        super().__init__()
        if n_labels < 1:
            raise ValueError("an identified-neuron baseline needs a label vocabulary")
        self.n_labels = n_labels
        self.gru = nn.GRU(n_labels * (n_features + 1), hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_states)

    def forward(
        self, x: torch.Tensor, valid: torch.Tensor, label_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """See :meth:`RelationalGNN.forward`."""
        b, k, n, _ = x.shape
        frames = torch.cat((x * valid.unsqueeze(-1), valid.unsqueeze(-1)), dim=-1)
        frames = frames.permute(0, 2, 1, 3).reshape(b, n, -1)  # (B, n, K * (F + 1))
        slots = _slots(frames, label_ids, self.n_labels).reshape(b, self.n_labels, k, -1)
        sequence = slots.permute(0, 2, 1, 3).flatten(2)  # (B, K, slots * (F + 1))
        _, last = self.gru(sequence)
        return self.head(last[0]), torch.zeros_like(label_ids, dtype=torch.float32)


class DeepSets(nn.Module):
    """Structure-agnostic: phi per neuron, mean and max over neurons, rho to logits."""

    def __init__(
        self,
        window: int,
        n_features: int,
        n_labels: int = 0,
        recent: int = 8,
        hidden: int = 32,
        n_states: int = 2,
    ) -> None:
        super().__init__()
        from torch_geometric.nn.aggr import MultiAggregation

        self.recent = min(recent, window)
        in_dim = self.recent * (n_features + 1) + N_STATS
        self.phi = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.pool = MultiAggregation(["mean", "max"])
        self.rho = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_states)
        )

    def forward(
        self, x: torch.Tensor, valid: torch.Tensor, label_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """See :meth:`RelationalGNN.forward`; ``label_ids`` is ignored."""
        b, n = label_ids.shape
        h = self.phi(node_features(x, valid, self.recent)).reshape(b * n, -1)
        graph = torch.arange(b, device=h.device).repeat_interleave(n)
        pooled = self.pool(h, graph, dim_size=b)
        return self.rho(pooled), torch.zeros_like(label_ids, dtype=torch.float32)
