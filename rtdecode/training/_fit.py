"""Training a network on prepared recordings (fixed seeds, a few CPU threads)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from rtdecode.log import get_logger
from rtdecode.models import LabelVocabulary, ModelFile, build_network
from rtdecode.preprocess import PreprocessConfig
from rtdecode.training._dataset import Prepared, stream_window, windows

__all__ = ["TrainConfig", "predict_recording", "train_model"]

STATES = ("forward", "reversal")
_log = get_logger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Parameters
    ----------
    architecture
        Registered network name.
    hyperparameters
        Network constructor arguments other than ``window``, ``n_features``, ``n_labels``.
    model_window
        Frames the network sees.
    epochs
        Passes over the training windows.
    batch
        Windows per step (all from one recording, so one neuron count per batch).
    lr
        Adam learning rate.
    use_labels
        Give the network label embeddings (trained with label dropout, so it works without).
    label_dropout
        Probability that a batch is shown with no identities at all.
    aux_weight
        Weight of the per-neuron role loss.
    neuron_keep
        Smallest fraction of neurons kept when a batch is subsampled (augmentation).
    label_min_animals
        A name gets an embedding when it occurs in this many training animals (``None``: in
        all of them, as the identified-neuron baselines need).
    seed
        Seed of every random draw.
    threads
        torch intra-op threads while training.
    """

    architecture: str = "relational_gnn"
    hyperparameters: dict[str, Any] = field(
        default_factory=lambda: {"hidden": 32, "edge_hidden": 8, "rounds": 1, "recent": 2}
    )
    model_window: int = 32
    epochs: int = 12
    batch: int = 16
    lr: float = 3e-3
    use_labels: bool = True
    label_dropout: float = 0.5
    aux_weight: float = 1.0
    neuron_keep: float = 0.7
    label_min_animals: int | None = 2
    seed: int = 0
    threads: int = 1


def _class_weights(reversal: np.ndarray) -> torch.Tensor:
    p = float(np.clip(reversal.mean(), 0.02, 0.98))
    return torch.tensor([0.5 / (1.0 - p), 0.5 / p], dtype=torch.float32)


def _network(
    data: list[Prepared], config: TrainConfig, device: torch.device
) -> tuple[LabelVocabulary, dict[str, Any], nn.Module]:
    """The label vocabulary of ``data``, the network's hyperparameters, the untrained network."""
    vocab = (
        LabelVocabulary.from_recordings(
            (d.labels for d in data), config.label_min_animals or len(data)
        )
        if config.use_labels
        else LabelVocabulary(())
    )
    hyper = dict(config.hyperparameters)
    hyper.update(window=config.model_window, n_features=data[0].features.shape[2])
    hyper["n_labels"] = len(vocab)
    return vocab, hyper, build_network(config.architecture, hyper).to(device)


def _on(device: torch.device, *arrays: np.ndarray) -> tuple[torch.Tensor, ...]:
    """NumPy batches as tensors on the network's device."""
    return tuple(torch.from_numpy(a).to(device) for a in arrays)


def train_model(
    data: list[Prepared],
    config: TrainConfig,
    preprocess: PreprocessConfig,
    metadata: dict[str, Any] | None = None,
    device: str | torch.device = "cpu",
    progress: Callable[[str], None] | None = None,
) -> ModelFile:
    """Train a network on recordings with behaviour and return it as a model file.

    Parameters
    ----------
    data
        Prepared training recordings (each must have ``reversal``).
    config
        Training settings.
    preprocess
        The preprocessing ``data`` was prepared with (stored in the model file).
    metadata
        Extra values for the model file's ``training`` record.
    device
        Where to train (``"cpu"``, or ``"cuda"`` on a machine with a GPU); the model file
        always holds CPU weights.
    progress
        Told each finished epoch and its mean loss.
    """
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    interval = float(np.median([d.frame_interval for d in data]))
    window = stream_window(config.model_window, interval)
    device = torch.device(device)
    vocab, hyper, net = _network(data, config, device)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=1e-4)
    steps_per_epoch = max(1, sum(d.n_frames for d in data) // (4 * config.batch))
    total = max(1, steps_per_epoch * config.epochs)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=total)
    ids = [vocab.encode(d.labels, d.features.shape[1]) for d in data]
    weights = [_class_weights(d.reversal).to(device) for d in data if d.reversal is not None]
    started = time.perf_counter()
    net.train()
    for epoch in range(config.epochs):
        losses = []
        for _ in range(steps_per_epoch):
            k = int(rng.integers(len(data)))
            batch = _batch(data[k], ids[k], rng, config, window, interval, device)
            loss = _loss(net, batch, weights[k], config.aux_weight)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimiser.step()
            scheduler.step()
            losses.append(float(loss.detach()))
        message = f"epoch {epoch + 1}/{config.epochs}: loss {float(np.mean(losses)):.4f}"
        _log.info(message)
        if progress is not None:
            progress(message)
    net.eval().cpu()
    torch.set_num_threads(previous_threads)
    training = {
        "config": {k: v for k, v in asdict(config).items() if k != "hyperparameters"},
        "recordings": [d.id for d in data],
        "seconds": round(time.perf_counter() - started, 1),
        "torch": str(torch.__version__),
        **(metadata or {}),
    }
    return ModelFile(
        architecture=config.architecture,
        hyperparameters=hyper,
        states=STATES,
        window=window,
        model_window=config.model_window,
        frame_interval_s=interval,
        preprocess=preprocess,
        labels=vocab.names,
        state_dict=net.state_dict(),
        training=training,
    )


def _loss(net: nn.Module, batch: _Batch, weight: torch.Tensor, aux_weight: float) -> torch.Tensor:
    """One batch's class-weighted cross-entropy, plus ``aux_weight`` times the role loss."""
    logits, role = net(*batch.inputs)
    loss = nn.functional.cross_entropy(logits, batch.target, weight=weight)
    if aux_weight > 0:
        loss = loss + aux_weight * nn.functional.mse_loss(
            role, batch.role.to(role.device).expand_as(role)
        )
    return loss


@dataclass
class _Batch:
    """One training batch: the network's inputs, the behaviour target, the neurons' roles."""

    inputs: tuple[torch.Tensor, ...]
    target: torch.Tensor
    role: torch.Tensor


def _batch(
    d: Prepared,
    ids: np.ndarray,
    rng: np.random.Generator,
    config: TrainConfig,
    window: int,
    interval: float,
    device: torch.device,
) -> _Batch:
    """A random batch of windows of one recording, a random subset of its neurons, labels
    dropped as ``config`` says (draws from ``rng`` in a fixed order: runs stay reproducible)."""
    assert d.reversal is not None
    n = d.features.shape[1]
    keep = int(rng.integers(int(config.neuron_keep * n), n + 1))
    neurons = np.sort(rng.choice(n, size=keep, replace=False))
    ends = rng.integers(0, d.n_frames, size=config.batch)
    x, v = windows(d, ends, window, config.model_window, interval, neurons)
    label_ids = np.broadcast_to(ids[neurons], (config.batch, keep)).copy()
    if rng.random() < config.label_dropout:
        label_ids[:] = 0
    elif config.label_dropout > 0:
        label_ids[rng.random(label_ids.shape) < 0.2] = 0
    target = torch.from_numpy(d.reversal[ends].astype(np.int64)).to(device)
    role = torch.from_numpy(2.0 * d.role[neurons])
    return _Batch(tuple(_on(device, x, v, label_ids)), target, role)


def predict_recording(
    model: ModelFile,
    net: nn.Module,
    prepared: Prepared,
    use_labels: bool = True,
    batch: int = 128,
) -> tuple[np.ndarray, np.ndarray]:
    """Reversal probability at every frame whose window is full, exactly as an engine gives it.

    Returns
    -------
    frames, probs
        Indices of the decoded frames (from ``window - 1`` on) and their reversal probability.
    """
    vocab = LabelVocabulary(model.labels)
    n = prepared.features.shape[1]
    ids = vocab.encode(prepared.labels if use_labels else None, n)
    frames = np.arange(model.window - 1, prepared.n_frames)
    out = np.empty(len(frames), np.float32)
    with torch.inference_mode():
        for s in range(0, len(frames), batch):
            ends = frames[s : s + batch]
            x, v = windows(prepared, ends, model.window, model.model_window, model.frame_interval_s)
            label_ids = torch.from_numpy(np.broadcast_to(ids, (len(ends), n)).copy())
            logits, _ = net(torch.from_numpy(x), torch.from_numpy(v), label_ids)
            out[s : s + len(ends)] = torch.softmax(logits, dim=1)[:, 1].numpy()
    return frames, out
