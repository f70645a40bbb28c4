"""Neuron identities as model inputs: a vocabulary of NeuroPAL names and their integer ids."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["LabelVocabulary", "canonical_label"]


def canonical_label(label: str | None) -> str | None:
    """A NeuroPAL name in the form the model uses: stripped, upper case, no trailing ``?``.

    Uncertain calls (``AVAL?``) count as the name; an empty label is ``None``.
    """
    if label is None:
        return None
    name = label.strip().rstrip("?").strip().upper()
    return name or None


class LabelVocabulary:
    """Maps neuron names to embedding ids: 0 means unknown, 1..len are the known names.

    Parameters
    ----------
    names
        The names the model has embeddings for, in id order (id = position + 1).
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._ids = {name: i + 1 for i, name in enumerate(self.names)}

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_recordings(
        cls, label_sets: Iterable[Sequence[str | None]], min_animals: int = 2
    ) -> LabelVocabulary:
        """Names that occur in at least ``min_animals`` of the given label sets, sorted."""
        counts: dict[str, int] = {}
        for labels in label_sets:
            names = {canonical_label(lab) for lab in labels}
            for name in names:
                if name is not None:
                    counts[name] = counts.get(name, 0) + 1
        return cls(sorted(name for name, c in counts.items() if c >= min_animals))

    def encode(self, labels: Sequence[str | None] | None, n_neurons: int) -> np.ndarray:
        """``(n_neurons,)`` int64 ids; all zeros when ``labels`` is ``None``."""
        ids = np.zeros(n_neurons, dtype=np.int64)
        if labels is None:
            return ids
        for i, lab in enumerate(labels):
            name = canonical_label(lab)
            if name is not None:
                ids[i] = self._ids.get(name, 0)
        return ids
