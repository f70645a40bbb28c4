"""Short column headings for the metric keys that ``rtdecode eval`` prints."""

from __future__ import annotations

__all__ = ["heading"]

_FIXED = {
    "balanced_accuracy": "bal.acc",
    "covered_balanced_accuracy": "cov.bal.acc",
    "frames": "frames",
}
_SETS = {"all": "all", "sustained": "sus"}


def heading(key: str) -> str:
    """``catch_sustained_2.4s`` -> ``sus+2.4s``, ``false_per_min_1.2s`` -> ``fp/m+1.2s``,
    ``lag_median_all_2.4s`` -> ``lag all+2.4s``; other keys as they are (or a fixed short name).
    """
    if key in _FIXED:
        return _FIXED[key]
    for prefix, label in (("catch_", ""), ("lag_median_", "lag ")):
        if key.startswith(prefix):
            onset_set, window = key[len(prefix) :].rsplit("_", 1)
            return f"{label}{_SETS.get(onset_set, onset_set)}+{window}"
    if key.startswith("false_per_min_"):
        return f"fp/m+{key[len('false_per_min_') :]}"
    return key
