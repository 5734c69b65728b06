import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from xaisim.cluster import (
    auto_resolution,
    check_distance,
    check_settings,
    cluster,
    cophenetic,
    cut,
    linkage,
    louvain,
    modularity,
    similarity_graph,
)

SETTINGS = {"linkage": "average", "k": 2, "resolution": "auto", "seed": 42}


def _frame(d, names=None):
    names = names or [f"m{i}" for i in range(len(d))]
    return pd.DataFrame(np.asarray(d, dtype=float), index=names, columns=names)


def _five():
    # By hand, average linkage: {0,1} at 2, {3,4} at 3, {2,{3,4}} at (4+5)/2 = 4.5,
    # then {0,1} with {2,3,4} at (6+10+9+5+9+8)/6 = 47/6.
    return _frame([[0, 2, 6, 10, 9], [2, 0, 5, 9, 8], [6, 5, 0, 4, 5], [10, 9, 4, 0, 3], [9, 8, 5, 3, 0]])


def _planted(sizes=(4, 3, 5), within=0.15, between=0.85, seed=0):
    """Planted communities: small distances inside a block, large between, a little seeded noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    d = np.where(labels[:, None] == labels[None, :], within, between) + rng.uniform(-0.05, 0.05, (len(labels),) * 2)
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0)
    return _frame(d), labels


def test_average_linkage_gives_the_merge_heights_and_cut_worked_by_hand():
    z = linkage(_five(), "average")
    np.testing.assert_allclose(z[:, 2], [2, 3, 4.5, 47 / 6])
    labels = cut(z, 2)
    assert labels[0] == labels[1] and len(set(labels[2:])) == 1 and labels[0] != labels[2]
    assert len(set(cut(z, 3))) == 3 and len(set(cut(z, 9))) == 5  # k beyond the model count: every model alone


def test_cophenetic_correlation_is_one_for_an_ultrametric_and_nan_below_three_models():
    # cophenetic distances of the tree above form an ultrametric: clustering it again reproduces it exactly
    from scipy.cluster import hierarchy
    from scipy.spatial.distance import squareform

    ultra = _frame(squareform(hierarchy.cophenet(linkage(_five(), "average"))))
    assert cophenetic(linkage(ultra, "average"), ultra) == pytest.approx(1.0)
    assert 0 < cophenetic(linkage(_five(), "average"), _five()) < 1
    two = _frame([[0, 0.3], [0.3, 0]])
    assert math.isnan(cophenetic(linkage(two), two))


@pytest.mark.parametrize("method", ["ward", "centroid", "median"])
def test_euclidean_only_linkages_are_refused_with_a_reason(method):
    with pytest.raises(ValueError, match=rf"config cluster.linkage: '{method}' is defined only for Euclidean"):
        check_settings({"linkage": method})
    check_settings({"linkage": "single"})


def test_auto_resolution_recovers_planted_communities():
    d, truth = _planted()
    table, summary, _ = cluster(d, {**SETTINGS, "k": 3})
    assert adjusted_rand_score(truth, table["cluster"]) == 1.0
    assert adjusted_rand_score(truth, table["community"]) == 1.0
    assert summary["ari_communities_vs_cut"] == 1.0 and summary["communities"] == 3
    assert summary["modularity"] > 0.3 and summary["cophenetic"] > 0.9
    # a resolution far too high splits the blocks: auto must not pick it
    assert len(set(louvain(d, 30.0, 42).values())) > 3
    resolution, ari = auto_resolution(d, truth, [30.0, 1.0, 60.0], 42)
    assert resolution == 1.0 and ari == 1.0


def test_auto_resolution_follows_k():
    """Four blocks in two pairs: the k = 2 cut and the k = 4 cut are each matched by some resolution."""
    d, truth = _planted(sizes=(3, 3, 3, 3), within=0.05, between=0.95)
    pair = np.array([0, 0, 1, 1])[truth]
    d = d.where((pair[:, None] != pair[None, :]) | (truth[:, None] == truth[None, :]), 0.6)
    for k, expected in ((2, pair), (4, truth)):
        table, summary, _ = cluster(d, {**SETTINGS, "k": k})
        assert adjusted_rand_score(expected, table["cluster"]) == 1.0
        assert adjusted_rand_score(expected, table["community"]) == 1.0, (k, summary)


def test_louvain_is_seeded_and_fixed_resolution_is_used():
    d, truth = _planted()
    assert louvain(d, 1.0, 7) == louvain(d, 1.0, 7)
    table, summary, _ = cluster(d, {**SETTINGS, "resolution": 1.0, "k": 3})
    assert summary["resolution"] == 1.0
    assert summary["modularity"] == pytest.approx(modularity(d, dict(zip(table.model, table.community))))
    assert sorted(table["leaf_order"]) == list(range(len(d)))


@pytest.mark.parametrize(
    "change, message",
    [(lambda d: d.iloc.__setitem__((0, 1), 0.5), "not symmetric"), (lambda d: d.iloc.__setitem__((0, 1), np.nan), "NaN")],
)
def test_bad_matrices_are_refused(change, message):
    d = _five()
    change(d)
    with pytest.raises(ValueError, match=message):
        check_distance(d, "distance.csv")


def test_similarity_graph_weights_are_one_minus_distance_without_self_loops():
    d = pd.DataFrame([[0, 1, 0.5], [1, 0, 0.2], [0.5, 0.2, 0]], index=list("abc"), columns=list("abc"))
    g = similarity_graph(d)
    assert sorted(g.nodes) == ["a", "b", "c"] and not g.has_edge("a", "b") and not g.has_edge("a", "a")
    assert g.edges["a", "c"]["weight"] == pytest.approx(0.5) and g.edges["b", "c"]["weight"] == pytest.approx(0.8)
