"""Group models by explanation distance: hierarchical linkage and Louvain communities."""

from __future__ import annotations

import community as community_louvain
import networkx as nx
import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform


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
    return hierarchy.linkage(squareform(check_distance(distance), checks=False), method=method)


def louvain(distance: pd.DataFrame, resolution: float = 1.0, seed: int = 42) -> dict[str, int]:
    """Louvain communities of the graph weighted by similarity 1 - distance (clipped at 0)."""
    graph = similarity_graph(distance)
    return community_louvain.best_partition(graph, weight="weight", resolution=resolution, random_state=seed)


def similarity_graph(distance: pd.DataFrame) -> nx.Graph:
    """Graph of the models with edge weight 1 - distance (no self loops, no edges of weight 0)."""
    weights = pd.DataFrame(np.clip(1 - check_distance(distance), 0, None), distance.index, distance.columns)
    graph = nx.from_pandas_adjacency(weights)
    graph.remove_edges_from(list(nx.selfloop_edges(graph)))
    return graph


def cluster_table(distance: pd.DataFrame, method: str, resolution: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Per model: Louvain community and dendrogram leaf order; plus the linkage matrix."""
    z = linkage(distance, method)
    order = hierarchy.leaves_list(z)
    communities = louvain(distance, resolution, seed)
    names = list(distance.index)
    table = pd.DataFrame(
        {
            "model": names,
            "community": [communities[n] for n in names],
            "leaf_order": np.argsort(order),
        }
    )
    return table, z


def cut(z: np.ndarray, k: int) -> np.ndarray:
    """Cluster labels (1..k) of the dendrogram ``z`` cut into at most ``k`` clusters."""
    return hierarchy.fcluster(z, t=k, criterion="maxclust")
