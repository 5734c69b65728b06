"""Group models by explanation distance: hierarchical linkage, a k-cluster cut and Louvain communities.

Policy for the resolution: ``resolution: auto`` runs the seeded Louvain method at every value of
``resolution_grid`` and keeps the one whose partition best matches the dendrogram's ``k``-cluster
cut (adjusted Rand index); ties go to the value closest to 1 (the method's own scale). This
automates the thesis' hand tuning ("match the colouring of the nodes to the first/second split of
the dendrogram"). With fewer than 3 models the cophenetic correlation is undefined (NaN; null in JSON).
"""

from __future__ import annotations

import math
from typing import Any

import community as community_louvain
import networkx as nx
import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform
from sklearn.metrics import adjusted_rand_score

LINKAGES = ("average", "complete", "single", "weighted")
EUCLIDEAN_ONLY = ("ward", "centroid", "median")
DEFAULT_GRID = tuple(round(0.1 * i, 1) for i in range(1, 31))


def check_settings(cluster: dict[str, Any], where: str = "config cluster") -> None:
    """Refuse linkages that need Euclidean distances (explanation distances are not)."""
    if cluster.get("linkage") in EUCLIDEAN_ONLY:
        raise ValueError(
            f"{where}.linkage: {cluster['linkage']!r} is defined only for Euclidean distances and explanation "
            f"distances are not Euclidean; use one of {', '.join(LINKAGES)}"
        )


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
    check_settings({"linkage": method}, "linkage")
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


def similarity_graph(distance: pd.DataFrame) -> nx.Graph:
    """Graph of the models with edge weight 1 - distance (no self loops, no edges of weight 0)."""
    weights = pd.DataFrame(np.clip(1 - check_distance(distance), 0, None), distance.index, distance.columns)
    graph = nx.from_pandas_adjacency(weights)
    graph.remove_edges_from(list(nx.selfloop_edges(graph)))
    return graph


def louvain(distance: pd.DataFrame, resolution: float = 1.0, seed: int = 42) -> dict[str, int]:
    """Seeded Louvain communities of the graph weighted by similarity 1 - distance (clipped at 0)."""
    graph = similarity_graph(distance)
    return community_louvain.best_partition(graph, weight="weight", resolution=resolution, random_state=seed)


def modularity(distance: pd.DataFrame, partition: dict[str, int]) -> float:
    """Newman modularity of a partition of the similarity graph (NaN for a graph without edges)."""
    graph = similarity_graph(distance)
    if graph.number_of_edges() == 0:
        return math.nan
    return float(community_louvain.modularity(partition, graph, weight="weight"))


def auto_resolution(
    distance: pd.DataFrame, reference: np.ndarray, grid: tuple[float, ...] | list[float], seed: int
) -> tuple[float, float]:
    """The grid resolution whose Louvain partition best matches ``reference`` labels: (resolution, ARI)."""
    names = list(distance.index)
    scored = []
    for r in grid:
        parts = louvain(distance, r, seed)
        scored.append((adjusted_rand_score(reference, [parts[n] for n in names]), -abs(math.log(r)), r))
    ari, _, best = max(scored)
    return float(best), float(ari)


def _json_number(x: float) -> float | None:
    """NaN becomes None (JSON null): undefined, not a number."""
    return None if math.isnan(x) else x


def cluster(distance: pd.DataFrame, settings: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any], np.ndarray]:
    """Per model: dendrogram cluster, Louvain community and leaf order; a summary; the linkage matrix.

    ``settings`` is the config's ``cluster`` section (linkage, k, resolution, resolution_grid, seed).
    """
    names = list(distance.index)
    z = linkage(distance, settings["linkage"])
    k = int(settings["k"])
    labels = cut(z, k)
    seed = int(settings["seed"])
    if settings["resolution"] == "auto":
        resolution, _ = auto_resolution(distance, labels, settings.get("resolution_grid") or DEFAULT_GRID, seed)
    else:
        resolution = float(settings["resolution"])
    parts = louvain(distance, resolution, seed)
    communities = [parts[n] for n in names]
    table = pd.DataFrame(
        {
            "model": names,
            "cluster": labels,
            "community": communities,
            "leaf_order": np.argsort(hierarchy.leaves_list(z)),
        }
    )
    summary = {
        "linkage": settings["linkage"],
        "k": k,
        "clusters": int(len(set(labels))),
        "cophenetic": _json_number(cophenetic(z, distance)),
        "resolution": resolution,
        "communities": int(len(set(communities))),
        "modularity": _json_number(modularity(distance, parts)),
        "ari_communities_vs_cut": float(adjusted_rand_score(labels, communities)),
    }
    return table, summary, z
