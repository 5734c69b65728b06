"""How stable is the clustering of the models? Bootstrap over images, adjusted Rand index.

Each bootstrap draws the N explained images with replacement, recomputes the distance matrix from
the per-image similarities, clusters it (average-linkage dendrogram cut into k clusters, Louvain)
with :mod:`xaisim.cluster` and compares it to the full-data clustering with scikit-learn's
adjusted Rand index (1: the same partition, about 0: chance). A bootstrap whose distance matrix is
not finite is counted and left out.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from xaisim import cluster
from xaisim.statistics import log
from xaisim.statistics.matrix import distance

COLUMNS = ["bootstrap", "ari_dendrogram", "ari_louvain", "clusters_dendrogram", "communities_louvain"]


def _partitions(d: pd.DataFrame, k: int, linkage: str, resolution: float, seed: int) -> tuple[list[int], list[int]]:
    cut = cluster.cut(cluster.linkage(d, linkage), k)
    communities = cluster.louvain(d, resolution, seed)
    return list(cut), [communities[m] for m in d.index]


def cluster_stability(
    sims: np.ndarray, models: Sequence[str], *, n_boot: int, k: int, linkage: str, resolution: float | str,
    cluster_seed: int, seed: int, resolution_grid: Sequence[float] = cluster.DEFAULT_GRID,
) -> pd.DataFrame:
    """One row per bootstrap: ARI of the dendrogram cut and of Louvain to the full-data ones.

    ``resolution: auto`` is chosen once, on the full data (:func:`xaisim.cluster.auto_resolution`),
    and kept for every bootstrap, so the ARI measures the data's stability, not the tuning's."""
    names = list(models)

    def frame(s: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(distance(s), index=names, columns=names)

    full = frame(sims)
    if resolution == "auto":
        resolution, _ = cluster.auto_resolution(full, cluster.cut(cluster.linkage(full, linkage), k),
                                                resolution_grid, cluster_seed)
    full_cut, full_louvain = _partitions(full, k, linkage, resolution, cluster_seed)
    rng = np.random.default_rng(seed)
    rows, skipped = [], 0
    for b in range(n_boot):
        d = frame(sims[rng.integers(0, len(sims), len(sims))])
        if not np.isfinite(d.to_numpy()).all():
            skipped += 1
            continue
        cut, louvain = _partitions(d, k, linkage, resolution, cluster_seed)
        rows.append({"bootstrap": b, "ari_dendrogram": adjusted_rand_score(full_cut, cut),
                     "ari_louvain": adjusted_rand_score(full_louvain, louvain),
                     "clusters_dendrogram": len(set(cut)), "communities_louvain": len(set(louvain))})
    if skipped:
        log.warning("cluster stability: %d of %d bootstraps gave a non-finite distance matrix and were left out", skipped, n_boot)
    return pd.DataFrame(rows, columns=COLUMNS)
