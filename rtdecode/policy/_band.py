"""The abstain band: the one definition of "the decoder is unsure of this probability"."""

from __future__ import annotations

__all__ = ["DEFAULT_ABSTAIN", "in_band"]

DEFAULT_ABSTAIN = (0.4, 0.6)
"""The abstain band of ``rtdecode run`` and ``rtdecode eval`` unless one is given."""


def in_band(p: float, band: tuple[float, float] | None) -> bool:
    """Whether probability ``p`` lies strictly inside ``band`` (never, for ``None``)."""
    return band is not None and band[0] < p < band[1]
