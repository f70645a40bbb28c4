"""The anatomical wiring shipped with rtdecode, as a graph prior between identified neurons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

__all__ = ["Connectome", "load_connectome"]


@dataclass(frozen=True, eq=False)
class Connectome:
    """Mean synapse counts between named hermaphrodite neurons.

    Attributes
    ----------
    names
        Neuron names, for example ``"AVAL"``.
    classes
        Neuron class of each name, for example ``"AVA"``.
    chemical
        ``(n, n)`` mean chemical synapses from row (pre) to column (post).
    electrical
        ``(n, n)`` mean gap junctions, symmetric.
    """

    names: tuple[str, ...]
    classes: tuple[str, ...]
    chemical: np.ndarray
    electrical: np.ndarray

    def index(self, name: str | None) -> int | None:
        """Row of ``name`` (a trailing ``?`` is ignored), or ``None`` when unknown."""
        if not name:
            return None
        return _index(self.names).get(name.rstrip("?"))

    def adjacency(self, labels: Sequence[str | None]) -> np.ndarray:
        """Wiring between a recording's neurons, in its own column order.

        Parameters
        ----------
        labels
            Identity per trace column, ``None`` where unknown.

        Returns
        -------
        numpy.ndarray
            ``(2, n, n)`` float32: chemical then electrical synapse counts; rows and columns of
            unidentified neurons are zero.
        """
        rows = [self.index(label) for label in labels]
        known = np.array([r is not None for r in rows])
        picks = np.array([r if r is not None else 0 for r in rows], dtype=np.int64)
        out = np.stack([self.chemical[np.ix_(picks, picks)], self.electrical[np.ix_(picks, picks)]])
        out[:, ~known, :] = 0.0
        out[:, :, ~known] = 0.0
        return out.astype(np.float32)


@cache
def _index(names: tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(names)}


@cache
def load_connectome() -> Connectome:
    """Load the shipped connectome (built by ``tools/build_connectome.py``; see CREDITS.md)."""
    resource = resources.files("rtdecode") / "resources" / "connectome.npz"
    with resources.as_file(resource) as path, np.load(path, allow_pickle=False) as arrays:
        return Connectome(
            names=tuple(str(x) for x in arrays["names"]),
            classes=tuple(str(x) for x in arrays["classes"]),
            chemical=arrays["chemical"],
            electrical=arrays["electrical"],
        )
