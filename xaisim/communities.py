"""Communities of models that can be absent: a sparse similarity graph, modularity at the resolution
used, a seed-free optimum for few models, and a permutation null.

Graph (``graph``): ``knn`` (default), the symmetric k-nearest-neighbour graph of the similarities
1 - distance: an edge i-j when j is among the ``neighbours`` most similar models of i or i among j's,
a model's ties with its k-th neighbour included; weight the similarity, clipped at 0. ``complete``
keeps every pair (the thesis' graph): its weights are near-equal, and modularity finds little there.

Optimisation: Newman's modularity at resolution γ (as :func:`networkx.community.modularity`) is
maximised exactly for up to :data:`EXACT_MAX` models by enumerating every partition (Bell(10) =
115,975), so the result depends on no seed; ties go to the partition with fewer communities. Above
that, networkx's Louvain method (``louvain_communities``, which applies γ in its moves and in its
stopping rule alike; python-louvain's stopping rule ignores γ) runs from ``restarts`` seeds and the
partition of highest modularity is kept.

Null: the distances of the model pairs permuted among the pairs (``null_draws`` seeded draws), the
graph rebuilt and optimised the same way; p = (1 + #{Q_null >= Q}) / (1 + draws), never below
1 / (1 + draws), a Monte-Carlo (not exact) p-value. Communities are a finding only when p < ``alpha``
and there are at least two; otherwise the outcome is "no community structure".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import networkx as nx
import numpy as np

EXACT_MAX = 10
_TOL = 1e-12


def default_neighbours(n_models: int) -> int:
    """k of the kNN graph when the config leaves it out: ceil(sqrt(M)) - 1, at least 1 (6 models: 2)."""
    return max(1, math.ceil(math.sqrt(n_models)) - 1)


def adjacency(distance: np.ndarray, graph: str = "knn", neighbours: int | None = None) -> np.ndarray:
    """Symmetric weight matrix (zero diagonal) of the similarity graph of a distance matrix."""
    m = len(distance)
    w = np.clip(1.0 - np.asarray(distance, dtype=np.float64), 0.0, None)
    np.fill_diagonal(w, 0.0)
    if graph == "complete":
        return w
    if graph != "knn":
        raise ValueError(f"graph: unknown graph {graph!r}; use knn or complete")
    k = default_neighbours(m) if neighbours is None else neighbours
    if not 1 <= k < m:
        raise ValueError(f"neighbours: {k} must be at least 1 and below the {m} models")
    others = np.where(np.eye(m, dtype=bool), -np.inf, w)
    kth = -np.sort(-others, axis=1)[:, k - 1 : k]
    keep = others >= kth - 1e-9 * np.maximum(np.abs(kth), 1.0)
    keep |= keep.T
    return np.where(keep, w, 0.0)


def modularity(w: np.ndarray, labels: np.ndarray, resolution: float = 1.0) -> float:
    """Newman modularity of ``labels`` on the weighted graph ``w`` (NaN for a graph without edges)."""
    strength = w.sum(1)
    two_m = strength.sum()
    if two_m <= 0:
        return math.nan
    same = np.asarray(labels)[:, None] == np.asarray(labels)[None, :]
    b = w - resolution * np.outer(strength, strength) / two_m
    return float(b[same].sum() / two_m)


@cache
def _partitions(m: int) -> np.ndarray:
    """Every partition of m items as restricted growth strings (P, m) int8, fewest blocks first."""
    rows = np.zeros((1, 1), np.int8)
    for _ in range(1, m):
        tops = rows.max(1) + 2
        rows = np.repeat(rows, tops, axis=0)
        nxt = np.concatenate([np.arange(t) for t in tops]).astype(np.int8)
        rows = np.concatenate([rows, nxt[:, None]], axis=1)
    order = np.argsort(rows.max(1), kind="stable")
    return rows[order]


@cache
def _pair_membership(m: int) -> np.ndarray:
    """(P, m(m-1)/2) float64: 1 where the pair i < j shares a block in partition p."""
    p = _partitions(m)
    i, j = np.triu_indices(m, 1)
    return (p[:, i] == p[:, j]).astype(np.float64)


def _exact(ws: list[np.ndarray], resolution: float) -> list[tuple[np.ndarray, float]]:
    """The modularity-maximising partition of each graph (all of the same size), by enumeration."""
    m = len(ws[0])
    i, j = np.triu_indices(m, 1)
    pairs = _pair_membership(m)
    out = []
    for start in range(0, len(ws), 64):
        chunk = ws[start : start + 64]
        b_pairs, const, scale = [], [], []
        for w in chunk:
            s = w.sum(1)
            two_m = s.sum()
            if two_m <= 0:
                b_pairs.append(np.zeros(len(i)))
                const.append(0.0)
                scale.append(1.0)
                continue
            b = w - resolution * np.outer(s, s) / two_m
            b_pairs.append(2 * b[i, j])
            const.append(np.trace(b))
            scale.append(two_m)
        q = (pairs @ np.stack(b_pairs, 1) + np.array(const)) / np.array(scale)
        for c in range(len(chunk)):
            best = int(np.flatnonzero(q[:, c] >= q[:, c].max() - _TOL)[0])
            out.append((_partitions(m)[best].astype(int), float(q[best, c])))
    return out


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0, 1, ... in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return rank[inverse]


def _louvain(w: np.ndarray, resolution: float, seed: int, restarts: int) -> tuple[np.ndarray, float]:
    """The best of ``restarts`` seeded runs of networkx's Louvain method (highest modularity, then
    the smallest canonical labelling)."""
    graph = nx.from_numpy_array(w)
    found = []
    for s in range(seed, seed + restarts):
        labels = np.empty(len(w), int)
        for c, nodes in enumerate(nx.community.louvain_communities(graph, weight="weight", resolution=resolution, seed=s)):
            labels[list(nodes)] = c
        labels = _canonical(labels)
        found.append((-round(modularity(w, labels, resolution), 12), tuple(labels)))
    labels = np.array(min(found)[1])
    return labels, modularity(w, labels, resolution)


def optimise(ws: list[np.ndarray], resolution: float, seed: int, restarts: int) -> list[tuple[np.ndarray, float]]:
    """The best partition and its modularity for each graph: exact up to :data:`EXACT_MAX` models."""
    if not ws or len(ws[0]) <= EXACT_MAX:
        return _exact(ws, resolution) if ws else []
    return [_louvain(w, resolution, seed, restarts) for w in ws]


@dataclass(frozen=True)
class Communities:
    """What the community search found.

    ``labels`` are the communities (0, 1, ...) when ``found``, else every model in community 0;
    ``modularity`` is at ``resolution``; ``p`` and ``floor`` come from the permutation null
    (``draws`` draws, Monte Carlo); ``method`` is ``exact`` or ``louvain``; ``outcome`` says it in words.
    """

    labels: np.ndarray
    best: np.ndarray
    modularity: float
    resolution: float
    p: float
    floor: float
    draws: int
    method: str
    found: bool
    outcome: str


def detect(
    distance: np.ndarray, *, graph: str = "knn", neighbours: int | None = None, resolution: float = 1.0,
    alpha: float = 0.05, null_draws: int = 999, seed: int = 0, restarts: int = 10,
) -> Communities:
    """Communities of the models of ``distance`` (M x M, zero diagonal), judged against the null."""
    d = np.asarray(distance, dtype=np.float64)
    m = len(d)
    w = adjacency(d, graph, neighbours)
    (best, q), = optimise([w], resolution, seed, restarts)
    method = "exact" if m <= EXACT_MAX else "louvain"
    floor = 1.0 / (null_draws + 1)
    n_found = int(best.max()) + 1
    if math.isnan(q) or n_found < 2:
        reason = "a graph without edges" if math.isnan(q) else "the best partition is one community"
        return Communities(np.zeros(m, int), best, q, resolution, math.nan, floor, 0, method, False,
                           f"no community structure ({reason})")
    rng = np.random.default_rng(seed)
    i, j = np.triu_indices(m, 1)
    nulls = []
    for _ in range(null_draws):
        shuffled = np.zeros_like(d)
        shuffled[i, j] = rng.permutation(d[i, j])
        nulls.append(adjacency(shuffled + shuffled.T, graph, neighbours))
    null_q = np.array([nq for _, nq in optimise(nulls, resolution, seed, restarts)])
    p = float((1 + np.sum(null_q >= q - _TOL)) / (null_draws + 1))
    found = p < alpha
    words = (f"{n_found} communities (modularity {q:.3f} at resolution {resolution:g}; null p = {p:.3g} < {alpha:g})"
             if found else
             f"no community structure (best partition: {n_found} communities, modularity {q:.3f} at resolution "
             f"{resolution:g}; null p = {p:.3g}, not below {alpha:g})")
    return Communities(best if found else np.zeros(m, int), best, q, resolution, p, floor, null_draws, method, found, words)
