"""Per-neuron summaries of a window shared by the models (all computed from the window alone)."""

from __future__ import annotations

import torch

__all__ = ["N_STATS", "node_features", "window_correlation"]

N_STATS = 8
_EPS = 1e-4


def node_features(x: torch.Tensor, valid: torch.Tensor, recent: int) -> torch.Tensor:
    """Per-neuron input vector: the last ``recent`` frames verbatim plus window statistics.

    Parameters
    ----------
    x
        ``(B, K, n, F)`` features; channel 0 is the z-score.
    valid
        ``(B, K, n)`` float validity.
    recent
        Frames taken verbatim.

    Returns
    -------
    torch.Tensor
        ``(B, n, recent * (F + 1) + N_STATS)``: masked recent frames with their validity, then
        mean, standard deviation, third and fourth moment, max, min, fraction valid and
        correlation with the population mean of the z-score over the window.
    """
    v = valid.unsqueeze(-1)
    xv = x * v
    last = torch.cat((xv[:, -recent:], v[:, -recent:]), dim=-1)  # (B, r, n, F+1)
    last = last.permute(0, 2, 1, 3).flatten(2)
    z = xv[..., 0]
    count = valid.sum(dim=1).clamp_min(1.0)
    mean = z.sum(dim=1) / count
    centred = (z - mean.unsqueeze(1)) * valid
    var = (centred * centred).sum(dim=1) / count
    std = torch.sqrt(var + _EPS)
    scaled = centred / std.unsqueeze(1)
    m3 = (scaled**3).sum(dim=1) / count
    m4 = (scaled**4).sum(dim=1) / count
    population = z.mean(dim=2, keepdim=True)
    population = population - population.mean(dim=1, keepdim=True)
    pop_std = torch.sqrt((population * population).mean(dim=1) + _EPS)
    corr_pop = (scaled * population).sum(dim=1) / count / pop_std
    stats = torch.stack(
        (
            mean,
            std,
            m3.clamp(-10.0, 10.0),
            m4.clamp(0.0, 30.0) / 3.0,
            z.amax(dim=1),
            z.amin(dim=1),
            valid.mean(dim=1),
            corr_pop,
        ),
        dim=-1,
    )
    return torch.cat((last, stats), dim=-1)


def window_correlation(z: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``(B, n, n)`` Pearson correlation between neurons over the window (invalid values masked).

    Parameters
    ----------
    z
        ``(B, K, n)`` z-scores.
    valid
        ``(B, K, n)`` float validity.
    """
    count = valid.sum(dim=1, keepdim=True).clamp_min(1.0)
    zv = z * valid
    centred = (zv - zv.sum(dim=1, keepdim=True) / count) * valid
    norm = torch.sqrt((centred * centred).sum(dim=1, keepdim=True) + _EPS)
    unit = centred / norm
    return unit.transpose(1, 2) @ unit
