"""How stable is the clustering of the models? Bootstrap over images, adjusted Rand index.

Each bootstrap draws the N explained images with replacement, recomputes the distance matrix from
the per-image similarities, clusters it (the dendrogram cut into k clusters, the best community partition) with
:mod:`xaisim.cluster` and compares it to the full-data clustering with scikit-learn's
adjusted Rand index (1: the same partition, about 0: chance). A bootstrap whose distance matrix is
not finite is counted and left out. Models whose full-data distances are not finite (all-zero maps,
a method that does not explain them) are left out, most non-finite cells first, with a warning;
with fewer than two models left the table is empty, with a warning, and the study goes on.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from xaisim import cluster
from xaisim import communities as C
from xaisim.statistics import log
from xaisim.statistics.matrix import distance

COLUMNS = ["bootstrap", "ari_dendrogram", "ari_communities", "clusters_dendrogram", "communities"]


def finite_models(dist: np.ndarray) -> list[int]:
    """Indices of the models kept when those with non-finite distances are dropped, worst first."""
    keep = list(range(len(dist)))
    while keep:
        bad = (~np.isfinite(dist[np.ix_(keep, keep)])).sum(1)
        if not bad.any():
            break
        keep.pop(int(bad.argmax()))
    return keep


def cluster_stability(sims: np.ndarray, models: Sequence[str], *, n_boot: int, settings: dict[str, Any], seed: int,
                      label: str = "") -> pd.DataFrame:
    """One row per bootstrap: ARI of the dendrogram cut and of the best community partition to the
    full-data ones. ``settings`` is the config's ``cluster`` section.

    The resolution (``match_dendrogram`` included) is chosen once, on the full data, and kept for
    every bootstrap, so the ARI measures the data's stability, not the tuning's. The community
    partition compared is the best one at that resolution, whether or not it beats its null (see
    ``clusters.csv`` for that)."""
    keep = finite_models(distance(sims))
    if len(keep) < len(models):
        log.warning("cluster stability of %s: %s left out (non-finite distances, e.g. all-zero maps)",
                    label, ", ".join(m for i, m in enumerate(models) if i not in keep))
    if len(keep) < 2:
        log.warning("cluster stability of %s: %d model(s) with finite distances; it needs 2, so its table is empty",
                    label, len(keep))
        return pd.DataFrame(columns=COLUMNS)
    sims, names = sims[:, keep][:, :, keep], [models[i] for i in keep]
    settings = cluster.fitted(settings, len(names))
    k = cluster.cut_k(settings, len(names))

    def frame(s: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(distance(s), index=names, columns=names)

    def partitions(d: pd.DataFrame, resolution: float) -> tuple[np.ndarray, np.ndarray]:
        (best, _), = C.optimise([cluster.adjacency(d, settings)], resolution, settings["seed"], settings["restarts"])
        return cluster.cut(cluster.linkage(d, settings["linkage"]), k), best

    full = frame(sims)
    resolution = settings["resolution"]
    if resolution == "match_dendrogram":
        resolution, _ = cluster.match_dendrogram(full, cluster.cut(cluster.linkage(full, settings["linkage"]), k), settings)
    full_cut, full_best = partitions(full, resolution)
    rng = np.random.default_rng(seed)
    rows, skipped = [], 0
    for b in range(n_boot):
        d = frame(sims[rng.integers(0, len(sims), len(sims))])
        if not np.isfinite(d.to_numpy()).all():
            skipped += 1
            continue
        cut, best = partitions(d, resolution)
        rows.append({"bootstrap": b, "ari_dendrogram": adjusted_rand_score(full_cut, cut),
                     "ari_communities": adjusted_rand_score(full_best, best),
                     "clusters_dendrogram": len(set(cut)), "communities": len(set(best))})
    if skipped:
        log.warning("cluster stability: %d of %d bootstraps gave a non-finite distance matrix and were left out", skipped, n_boot)
    return pd.DataFrame(rows, columns=COLUMNS)
