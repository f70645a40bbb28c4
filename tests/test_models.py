"""Network-level properties: permutation invariance, any size, identical training/inference paths."""

from __future__ import annotations

import pytest
import torch

from rtdecode.models import ARCHITECTURES, build_network


def _inputs(n: int, b: int = 2, k: int = 16, f: int = 3, labels: int = 10):
    g = torch.Generator().manual_seed(n)
    x = torch.randn(b, k, n, f, generator=g)
    valid = (torch.rand(b, k, n, generator=g) > 0.1).float()
    ids = torch.randint(0, labels + 1, (b, n), generator=g)
    return x, valid, ids


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_relabelling_neurons_consistently_changes_nothing(architecture: str) -> None:
    torch.manual_seed(0)
    net = build_network(architecture, {"window": 16, "n_features": 3, "n_labels": 10}).eval()
    x, valid, ids = _inputs(40)
    perm = torch.randperm(40)
    with torch.no_grad():
        a, _ = net(x, valid, ids)
        b, _ = net(x[:, :, perm], valid[:, :, perm], ids[:, perm])
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("n", [1, 2, 57, 302])
def test_the_gnn_takes_any_neuron_count_with_or_without_names(n: int) -> None:
    net = build_network("relational_gnn", {"window": 16, "n_features": 3, "n_labels": 10}).eval()
    x, valid, ids = _inputs(n)
    with torch.no_grad():
        for label_ids in (ids, torch.zeros_like(ids)):
            logits, role = net(x, valid, label_ids)
            assert logits.shape == (2, 2) and role.shape == (2, n)
            assert torch.isfinite(logits).all()


def test_inference_path_equals_training_path() -> None:
    torch.manual_seed(1)
    net = build_network("relational_gnn", {"window": 16, "n_features": 3, "n_labels": 10}).eval()
    x, valid, ids = _inputs(33)
    trained, _ = net(x, valid, ids)  # gradients on: the out-of-place edge computation
    with torch.inference_mode():
        inferred, _ = net(x, valid, ids)  # the in-place one the engines run
    torch.testing.assert_close(trained.detach(), inferred, atol=1e-6, rtol=1e-6)


def test_without_names_the_gnn_ignores_label_ids_of_zero() -> None:
    torch.manual_seed(2)
    named = build_network("relational_gnn", {"window": 16, "n_features": 3, "n_labels": 10})
    plain = build_network("relational_gnn", {"window": 16, "n_features": 3, "n_labels": 0})
    plain.load_state_dict(
        {k: v for k, v in named.state_dict().items() if not k.startswith("label_")}
    )
    x, valid, ids = _inputs(20)
    with torch.no_grad():
        a, _ = named.eval()(x, valid, torch.zeros_like(ids))
        b, _ = plain.eval()(x, valid, torch.zeros_like(ids))
    torch.testing.assert_close(a, b)
