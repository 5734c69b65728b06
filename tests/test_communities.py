"""Communities that can be absent: planted groups are found, equal weights give none, no seed matters."""

import itertools

import networkx as nx
import numpy as np
import pytest

from xaisim import communities as C


def _planted(groups=(3, 3, 3), within=0.1, between=0.8, noise=0.03, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(groups)), groups)
    d = np.where(labels[:, None] == labels[None, :], within, between) + rng.uniform(-noise, noise, (len(labels),) * 2)
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0)
    return d, labels


def test_partitions_are_every_set_partition_once():
    for m, bell in [(1, 1), (3, 5), (5, 52), (7, 877)]:
        p = C._partitions(m)
        assert len(p) == bell
        assert len({tuple(C._canonical(r)) for r in p}) == bell  # distinct partitions, canonical labels


def test_modularity_equals_networkx_at_any_resolution():
    d, labels = _planted()
    w = C.adjacency(d, "complete")
    graph = nx.from_numpy_array(w)
    blocks = [set(np.flatnonzero(labels == c)) for c in range(3)]
    for resolution in (0.5, 1.0, 2.0):
        assert C.modularity(w, labels, resolution) == pytest.approx(
            nx.community.modularity(graph, blocks, weight="weight", resolution=resolution), abs=1e-12)


def test_exact_optimum_is_the_best_of_all_partitions():
    d, _ = _planted((2, 3), noise=0.2, seed=3)
    w = C.adjacency(d, "knn", 2)
    (labels, q), = C.optimise([w], 1.0, seed=0, restarts=1)
    brute = max(C.modularity(w, np.array(p), 1.0) for p in itertools.product(range(5), repeat=5))
    assert q == pytest.approx(brute, abs=1e-12)
    assert C.modularity(w, labels, 1.0) == pytest.approx(q, abs=1e-12)


def test_knn_graph_is_symmetric_with_ties_included():
    d, _ = _planted()
    w = C.adjacency(d, "knn", 2)
    assert np.array_equal(w, w.T) and (np.diag(w) == 0).all()
    assert ((w > 0).sum(1) >= 2).all()
    equal = np.full((5, 5), 0.5)
    np.fill_diagonal(equal, 0)
    assert ((C.adjacency(equal, "knn", 1) > 0).sum(1) == 4).all()  # every neighbour ties with the nearest


def test_planted_communities_are_found_against_the_null():
    d, labels = _planted()
    found = C.detect(d, null_draws=999, seed=1)
    assert found.found and found.p < 0.01 and found.method == "exact"
    assert found.p >= found.floor == pytest.approx(1 / 1000)
    assert len({(a, b) for a, b in zip(found.labels, labels)}) == 3  # the planted groups, relabelled
    assert "3 communities" in found.outcome


def test_equal_weights_give_no_community_structure():
    equal = np.full((6, 6), 0.3)
    np.fill_diagonal(equal, 0)
    for graph in ("knn", "complete"):
        result = C.detect(equal, graph=graph, null_draws=99)
        assert not result.found and (result.labels == 0).all()
        assert result.outcome.startswith("no community structure")


def test_noise_alone_is_not_a_finding():
    rng = np.random.default_rng(5)
    rejected = 0
    for _ in range(10):
        d = rng.uniform(0.3, 0.7, (7, 7))
        d = (d + d.T) / 2
        np.fill_diagonal(d, 0)
        rejected += C.detect(d, null_draws=99, seed=int(rng.integers(1000))).found
    assert rejected <= 3  # about alpha = 5 % of pure-noise matrices; 3 of 10 is p < 0.002 under the null


def test_the_result_does_not_depend_on_the_seed():
    d, _ = _planted((3, 3), noise=0.25, seed=4)
    first = C.detect(d, null_draws=0, seed=0)
    for seed in (1, 7, 123):
        other = C.detect(d, null_draws=0, seed=seed)
        assert np.array_equal(other.best, first.best) and other.modularity == first.modularity


def test_above_the_exact_size_louvain_is_used_and_finds_planted_groups():
    d, labels = _planted((4, 4, 4), seed=2)
    result = C.detect(d, null_draws=49, seed=0, restarts=3)
    assert result.method == "louvain" and result.found
    assert len({(a, b) for a, b in zip(result.labels, labels)}) == 3


@pytest.mark.parametrize("graph, neighbours, match", [("ring", None, "graph: unknown"), ("knn", 0, "neighbours"),
                                                      ("knn", 6, "neighbours")])
def test_bad_graph_settings_are_refused(graph, neighbours, match):
    d, _ = _planted((3, 3))
    with pytest.raises(ValueError, match=match):
        C.adjacency(d, graph, neighbours)
