"""Group models by explanation distance: hierarchical linkage, a k-cluster cut and communities.

The cut reports its cluster sizes and flags clusters of one model (a cut that only splits off an
outlier). Communities come from :mod:`xaisim.communities` (a kNN similarity graph, modularity at
the configured resolution, a permutation null): they are reported only when they beat the null.
``resolution: match_dendrogram`` is the thesis' hand tuning ("match the colouring of the nodes to
the first/second split of the dendrogram"), automated: every value of ``resolution_grid`` is tried
and the one whose partition best matches the ``k``-cut (adjusted Rand index) is kept, ties to the
value closest to 1. Agreement with the cut is then built in, so it is labelled as such and never
the default. With fewer than 3 models the cophenetic correlation is undefined (NaN; null in JSON).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform
from sklearn.metrics import adjusted_rand_score

from xaisim import communities as C

log = logging.getLogger(__name__)

LINKAGES = ("average", "complete", "single", "weighted")
EUCLIDEAN_ONLY = ("ward", "centroid", "median")


def check_settings(cluster: dict[str, Any], n_models: int | None = None, where: str = "config cluster") -> None:
    """Refuse linkages that need Euclidean distances (explanation distances are not), and a cut or a
    kNN graph that the number of models cannot hold."""
    if cluster.get("linkage") in EUCLIDEAN_ONLY:
        raise ValueError(
            f"{where}.linkage: {cluster['linkage']!r} is defined only for Euclidean distances and explanation "
            f"distances are not Euclidean; use one of {', '.join(LINKAGES)}"
        )
    if n_models is None:
        return
    k = cluster.get("k", "auto")
    if k != "auto" and k >= n_models:
        raise ValueError(f"{where}.k: {k} clusters need more than {n_models} models; lower it below {n_models} or use auto")
    neighbours = cluster.get("neighbours", "auto")
    if neighbours != "auto" and neighbours >= n_models:
        raise ValueError(f"{where}.neighbours: {neighbours} neighbours need more than {n_models} models; "
                         f"lower it below {n_models} or use auto")


def check_distance(distance: pd.DataFrame, where: str = "distance matrix") -> np.ndarray:
    """A finite, symmetric, square matrix with model names on both axes; returned with a zero diagonal."""
    d = distance.to_numpy(dtype=float)
    if d.shape[0] != d.shape[1] or list(distance.index) != list(distance.columns):
        raise ValueError(f"{where}: header and index must name the same models in the same order")
    if not np.isfinite(d).all():
        raise ValueError(f"{where}: contains NaN or infinite values")
    if not np.allclose(d, d.T, atol=1e-8):
        raise ValueError(f"{where}: not symmetric")
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    return d


def linkage(distance: pd.DataFrame, method: str = "average") -> np.ndarray:
    """scipy linkage matrix of the models (diagonal forced to 0)."""
    check_settings({"linkage": method}, where="linkage")
    return hierarchy.linkage(squareform(check_distance(distance), checks=False), method=method)


def cut(z: np.ndarray, k: int) -> np.ndarray:
    """Cluster labels (1..k) of the dendrogram cut into at most ``k`` clusters."""
    return hierarchy.fcluster(z, min(k, len(z) + 1), criterion="maxclust")


def cut_height(z: np.ndarray, k: int) -> float:
    """A height between the merges that leave ``k`` and ``k - 1`` clusters (for colouring branches)."""
    n = len(z) + 1
    if k <= 1 or k > n - 1:
        return float(z[-1, 2] + 1) if k <= 1 else 0.0
    return float((z[n - 1 - k, 2] + z[n - k, 2]) / 2)


def cophenetic(z: np.ndarray, distance: pd.DataFrame) -> float:
    """Pearson correlation between the distances and the dendrogram's cophenetic distances."""
    if len(distance) < 3:
        return math.nan
    return float(hierarchy.cophenet(z, squareform(check_distance(distance), checks=False))[0])


def fitted(settings: dict[str, Any], n_models: int) -> dict[str, Any]:
    """``settings`` for a matrix of ``n_models``: a configured ``k`` or ``neighbours`` (checked against
    the config's models) not below them is capped to n_models - 1 (at least 1), with one warning; a
    method that explains fewer models, or models left out, make such matrices."""
    out, top = dict(settings), max(1, n_models - 1)
    for key in ("k", "neighbours"):
        value = out.get(key, "auto")
        if value != "auto" and int(value) > top:
            log.warning("cluster.%s=%s is not below the %d model(s) of this matrix: %d used", key, value, n_models, top)
            out[key] = top
    return out


def cut_k(settings: dict[str, Any], n_models: int) -> int:
    """Clusters of the dendrogram cut: the configured ``k``, or for ``auto`` 2 (1 with two models)."""
    k = settings.get("k", "auto")
    return (2 if n_models > 2 else 1) if k == "auto" else int(k)


def neighbours(settings: dict[str, Any], n_models: int) -> int:
    """k of the kNN graph: the configured one, or :func:`xaisim.communities.default_neighbours`."""
    k = settings.get("neighbours", "auto")
    return C.default_neighbours(n_models) if k == "auto" else int(k)


def adjacency(distance: pd.DataFrame, settings: dict[str, Any]) -> np.ndarray:
    """The weights of the community graph of ``distance`` under ``settings`` (graph, neighbours)."""
    return C.adjacency(check_distance(distance), settings["graph"], neighbours(settings, len(distance)))


def match_dendrogram(distance: pd.DataFrame, reference: np.ndarray, settings: dict[str, Any]) -> tuple[float, float]:
    """The grid resolution whose best partition matches ``reference`` labels most: (resolution, ARI)."""
    w = adjacency(distance, settings)
    scored = []
    for r in settings["resolution_grid"]:
        (labels, _), = C.optimise([w], r, settings["seed"], settings["restarts"])
        scored.append((adjusted_rand_score(reference, labels), -abs(math.log(r)), r))
    ari, _, best = max(scored)
    return float(best), float(ari)


def communities(distance: pd.DataFrame, settings: dict[str, Any], cut_labels: np.ndarray) -> C.Communities:
    """The communities of ``distance`` at the configured (or dendrogram-matched) resolution, with their null."""
    resolution = settings["resolution"]
    if resolution == "match_dendrogram":
        resolution, _ = match_dendrogram(distance, cut_labels, settings)
    return C.detect(
        check_distance(distance), graph=settings["graph"], neighbours=neighbours(settings, len(distance)),
        resolution=float(resolution), alpha=settings["alpha"], null_draws=settings["null_draws"],
        seed=settings["seed"], restarts=settings["restarts"],
    )


def _json_number(x: float) -> float | None:
    """NaN becomes None (JSON null): undefined, not a number."""
    return None if math.isnan(x) else x


def cut_report(labels: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Sizes of the cut's clusters (largest first) and the models it sets apart alone."""
    sizes = np.bincount(labels)[1:]
    alone = [n for n, c in zip(names, labels) if sizes[c - 1] == 1]
    return {"cut_sizes": sorted((int(x) for x in sizes if x), reverse=True), "cut_singletons": alone}


def cluster(distance: pd.DataFrame, settings: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any], np.ndarray]:
    """Per model: dendrogram cluster, community (empty without community structure) and leaf order; a
    summary; the linkage matrix. ``settings`` is the config's ``cluster`` section, defaults filled in.
    """
    names = list(distance.index)
    settings = fitted(settings, len(names))
    z = linkage(distance, settings["linkage"])
    k = cut_k(settings, len(names))
    labels = cut(z, k)
    found = communities(distance, settings, labels)
    table = pd.DataFrame(
        {
            "model": names,
            "cluster": labels,
            "community": found.labels + 1 if found.found else [""] * len(names),
            "leaf_order": np.argsort(hierarchy.leaves_list(z)),
        }
    )
    summary = {
        "linkage": settings["linkage"],
        "k": k,
        "clusters": int(len(set(labels))),
        **cut_report(labels, names),
        "cophenetic": _json_number(cophenetic(z, distance)),
        "graph": settings["graph"],
        "neighbours": neighbours(settings, len(names)) if settings["graph"] == "knn" else None,
        "resolution": found.resolution,
        "resolution_rule": ("matched to the dendrogram cut (agreement with the cut is built in)"
                            if settings["resolution"] == "match_dendrogram" else "fixed"),
        "community_method": found.method,
        "modularity": _json_number(found.modularity),
        "community_p": _json_number(found.p),
        "community_p_exact": False,
        "community_p_floor": found.floor,
        "community_null_draws": found.draws,
        "community_structure": found.found,
        "communities": int(found.labels.max()) + 1 if found.found else 0,
        "community_outcome": found.outcome,
        "ari_communities_vs_cut": float(adjusted_rand_score(labels, found.labels)) if found.found else None,
    }
    return table, summary, z
