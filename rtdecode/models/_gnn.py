"""The relational decoder: NRI-style node -> edge -> node message passing over all neuron pairs.

Dense formulation for speed on a CPU. The first layer of the edge MLP on ``[h_i, h_j, c_ij]``
is factorised as ``W_a h_i + W_b h_j + w_c c_ij``: each node is projected once and the
per-edge work is a broadcast add, so a round costs O(n^2 * edge_hidden) adds rather than a
matrix product per edge. ``c_ij`` is the correlation of neurons i and j over the window (the
relation inferred from activity). The readout (attention, mean and max pooling over neurons)
is permutation invariant, and nothing depends on the neuron count.
"""

from __future__ import annotations

import torch
from torch import nn

from rtdecode.models._features import node_features, window_correlation

__all__ = ["RelationalGNN"]


class RelationalGNN(nn.Module):
    """Window of per-neuron features -> behavioural state logits.

    Parameters
    ----------
    window
        Frames per window (K) at the model's own frame interval.
    n_features
        Feature channels per neuron and frame from the Preprocessor (F).
    hidden
        Node state size.
    edge_hidden
        Edge state size (the n x n x edge_hidden tensor is the main cost).
    rounds
        Message-passing rounds.
    recent
        Most recent frames given to the node encoder verbatim (the rest enter as statistics).
    n_labels
        Size of the neuron-name vocabulary; 0 for a model that never uses identities.
    n_states
        Output classes.
    identity_readout
        With labels: add a linear read-out per neuron name (zero for unlabelled neurons).
    """

    def __init__(
        self,
        window: int,
        n_features: int,
        hidden: int = 32,
        edge_hidden: int = 16,
        rounds: int = 2,
        recent: int = 8,
        n_labels: int = 0,
        n_states: int = 2,
        identity_readout: bool = True,
    ) -> None:
        super().__init__()
        self.window = window
        self.recent = min(recent, window)
        in_dim = self.recent * (n_features + 1) + 8
        self.encode = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.label_embedding = (
            nn.Embedding(n_labels + 1, hidden, padding_idx=0) if n_labels > 0 else None
        )
        # Per-name linear read-out of a labelled neuron's own inputs (a logistic regression on
        # identified neurons inside the GNN); unlabelled neurons contribute nothing to it.
        self.label_readout = (
            nn.Embedding(n_labels + 1, in_dim * n_states, padding_idx=0)
            if n_labels > 0 and identity_readout
            else None
        )
        if self.label_readout is not None:
            nn.init.zeros_(self.label_readout.weight)
        self.n_states = n_states
        self.edge_src = nn.ModuleList(nn.Linear(hidden, edge_hidden) for _ in range(rounds))
        self.edge_dst = nn.ModuleList(
            nn.Linear(hidden, edge_hidden, bias=False) for _ in range(rounds)
        )
        self.edge_corr = nn.ParameterList(
            nn.Parameter(torch.randn(edge_hidden) * 0.5) for _ in range(rounds)
        )
        self.update = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden + edge_hidden, hidden), nn.ReLU()) for _ in range(rounds)
        )
        self.attention = nn.Linear(hidden, 1)
        self.role = nn.Linear(hidden, 1)
        self.readout = nn.Sequential(
            nn.Linear(3 * hidden + self.recent * n_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_states),
        )

    def forward(
        self, x: torch.Tensor, valid: torch.Tensor, label_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode a batch of windows.

        Parameters
        ----------
        x
            ``(B, K, n, F)`` float features, oldest frame first.
        valid
            ``(B, K, n)`` float, 1 where the value is real, 0 where carried forward.
        label_ids
            ``(B, n)`` int64 name ids (0 = unknown).

        Returns
        -------
        logits, role
            ``(B, n_states)`` state logits and ``(B, n)`` per-neuron role scores (how strongly
            each neuron's activity goes with reversals; trained as an auxiliary target and used
            by the readout to project the recent activity onto that axis).
        """
        inputs = node_features(x, valid, self.recent)
        h, _ = self._propagate(inputs, x, valid, label_ids, keep_edges=False)
        weights = torch.softmax(self.attention(h).squeeze(-1), dim=-1).unsqueeze(-1)
        role = self.role(h).squeeze(-1)
        # Recent activity projected on the inferred reversal axis: sum_i tanh(role_i) x_i(t).
        recent = (x[:, -self.recent :] * valid[:, -self.recent :].unsqueeze(-1)).transpose(2, 3)
        projected = (recent @ torch.tanh(role)[:, None, :, None]).flatten(1)
        projected = projected / (x.shape[2] ** 0.5)
        pooled = torch.cat(
            ((weights * h).sum(dim=1), h.mean(dim=1), h.amax(dim=1), projected), dim=-1
        )
        logits = self.readout(pooled)
        if self.label_readout is not None:
            b, n, d = inputs.shape
            per_name = self.label_readout(label_ids).reshape(b, n, self.n_states, d)
            logits = logits + (per_name * inputs.unsqueeze(2)).sum(dim=(1, 3))
        return logits, role

    def _propagate(
        self,
        inputs: torch.Tensor,
        x: torch.Tensor,
        valid: torch.Tensor,
        label_ids: torch.Tensor,
        keep_edges: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Node states after the message-passing rounds and, with ``keep_edges``, the last
        round's edge activations averaged over channels (see :meth:`edge_weights`)."""
        h = self.encode(inputs)
        if self.label_embedding is not None:
            h = h + self.label_embedding(label_ids)
        corr = window_correlation(x[..., 0], valid)
        training = torch.is_grad_enabled()
        kept = None
        for src, dst, wc, upd in zip(
            self.edge_src, self.edge_dst, self.edge_corr, self.update, strict=True
        ):
            if training:
                edges = torch.relu(
                    src(h).unsqueeze(2) + dst(h).unsqueeze(1) + corr.unsqueeze(-1) * wc
                )
                message = edges.mean(dim=2)
                if keep_edges:
                    kept = edges.mean(dim=-1)
            else:
                # Inference: the same values, channels first (B, E, n, n) so the broadcast adds
                # run along contiguous rows, built in place in one buffer.
                edges = corr.unsqueeze(1) * wc.view(1, -1, 1, 1)
                edges += src(h).transpose(1, 2).unsqueeze(-1)
                edges += dst(h).transpose(1, 2).unsqueeze(-2)
                edges.relu_()
                message = edges.mean(dim=-1).transpose(1, 2)
                if keep_edges:
                    kept = edges.mean(dim=1)
            h = h + upd(torch.cat((h, message), dim=-1))
        return h, kept

    def edge_weights(
        self, x: torch.Tensor, valid: torch.Tensor, label_ids: torch.Tensor
    ) -> torch.Tensor:
        """The interaction weights the network computes for a window: the last round's edge
        activations (the values it averages into each neuron's message), mean over channels.

        Parameters
        ----------
        x, valid, label_ids
            As for :meth:`forward`.

        Returns
        -------
        torch.Tensor
            ``(B, n, n)``: entry ``[b, i, j]`` is the edge from neuron ``j`` into neuron ``i``'s
            message (0 where the ReLU closed it), the numbers the forward pass averages.
        """
        inputs = node_features(x, valid, self.recent)
        _, edges = self._propagate(inputs, x, valid, label_ids, keep_edges=True)
        assert edges is not None  # the network has at least one round
        return edges
