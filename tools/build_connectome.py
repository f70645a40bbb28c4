"""Build rtdecode/resources/connectome.npz from the synapse lists in shared/data/connectome.

For every ordered pair of hermaphrodite neurons the file holds the mean number of chemical synapses
(pre -> post) and of gap junctions (symmetric), averaged over the datasets (White 1986, Cook/Jarrell
2019, Witvliet 2021 x2) in which both neurons were reconstructed.

Run from the repository root: ``python tools/build_connectome.py [--data DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("white_1986_whole", "cook_jarrell_2019_h", "witvliet_2020_7", "witvliet_2020_8")
CHEMICAL, ELECTRICAL = 0, 2


def build(data: Path) -> dict[str, np.ndarray]:
    """Return the arrays written to ``connectome.npz`` (names, classes, chemical, electrical)."""
    with (data / "connectome_neurons.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["category"] != "male"]
    names = [r["name"] for r in rows]
    index = {name: i for i, name in enumerate(names)}
    n = len(names)
    sums = np.zeros((2, n, n))
    covered = np.zeros((n, n))
    for dataset in DATASETS:
        edges = json.loads((data / f"{dataset}.json").read_text())
        present = np.zeros(n, dtype=bool)
        for edge in edges:
            pre, post = index.get(edge["pre"]), index.get(edge["post"])
            if pre is None or post is None:
                continue
            present[[pre, post]] = True
            kind = 0 if edge["typ"] == CHEMICAL else 1
            sums[kind, pre, post] += len(edge["syn"])
            if edge["typ"] == ELECTRICAL:
                sums[kind, post, pre] += len(edge["syn"])
        covered += np.outer(present, present)
    mean = np.divide(sums, covered, out=np.zeros_like(sums), where=covered > 0)
    keep = covered.diagonal() > 0
    return {
        "names": np.array(names)[keep],
        "classes": np.array([r["class"] for r in rows])[keep],
        "chemical": mean[0][np.ix_(keep, keep)].astype(np.float32),
        "electrical": mean[1][np.ix_(keep, keep)].astype(np.float32),
    }


def main() -> None:
    """Write ``rtdecode/resources/connectome.npz``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/connectome")
    args = parser.parse_args()
    arrays = build(args.data)
    out = ROOT / "rtdecode" / "resources" / "connectome.npz"
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB): {len(arrays['names'])} neurons")


if __name__ == "__main__":
    main()
