import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from xaisim import communities as C
from xaisim.cluster import (
    check_distance,
    check_settings,
    cluster,
    cophenetic,
    cut,
    linkage,
    match_dendrogram,
)

SETTINGS = {"linkage": "average", "k": 2, "resolution": 1.0, "graph": "knn", "neighbours": "auto", "null_draws": 199,
            "alpha": 0.05, "restarts": 3, "seed": 42, "resolution_grid": [0.5, 1.0, 2.0, 4.0]}


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


def test_planted_communities_are_found_and_reported_with_their_null():
    d, truth = _planted()
    table, summary, _ = cluster(d, {**SETTINGS, "k": 3})
    assert adjusted_rand_score(truth, table["cluster"]) == 1.0
    assert adjusted_rand_score(truth, table["community"]) == 1.0
    assert summary["community_structure"] and summary["communities"] == 3 and summary["ari_communities_vs_cut"] == 1.0
    assert summary["community_p"] == pytest.approx(1 / 200) and summary["community_p_floor"] == pytest.approx(1 / 200)
    assert summary["community_method"] == "louvain" and summary["community_p_exact"] is False  # 12 models
    w = C.adjacency(d.to_numpy(), "knn", summary["neighbours"])
    assert summary["modularity"] == pytest.approx(C.modularity(w, table["community"].to_numpy(), 1.0))
    assert summary["cut_sizes"] == [5, 4, 3] and summary["cut_singletons"] == []
    assert sorted(table["leaf_order"]) == list(range(len(d)))


def test_near_equal_distances_give_no_communities_and_an_outlier_cut_is_flagged():
    rng = np.random.default_rng(0)
    d = 0.5 + rng.uniform(-0.02, 0.02, (6, 6))
    d[5, :] = d[:, 5] = 0.9  # one outlier: the 2-cut only sets it apart
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0)
    table, summary, _ = cluster(_frame(d), SETTINGS)
    assert not summary["community_structure"] and summary["communities"] == 0
    assert summary["community_outcome"].startswith("no community structure")
    assert (table["community"] == "").all()
    assert summary["cut_sizes"] == [5, 1] and summary["cut_singletons"] == ["m5"]


def test_match_dendrogram_picks_the_resolution_of_the_cut_and_says_so():
    """Four blocks in two pairs: the k = 2 cut and the k = 4 cut are each matched by some resolution."""
    d, truth = _planted(sizes=(3, 3, 3, 3), within=0.05, between=0.95)
    pair = np.array([0, 0, 1, 1])[truth]
    d = d.where((pair[:, None] != pair[None, :]) | (truth[:, None] == truth[None, :]), 0.6)
    settings = {**SETTINGS, "resolution": "match_dendrogram", "graph": "complete",
                "resolution_grid": [0.5, 1.0, 1.5, 2.0, 3.0, 5.0]}
    for k, expected in ((2, pair), (4, truth)):
        resolution, ari = match_dendrogram(d, expected, {**settings, "k": k})
        assert ari == 1.0, (k, resolution)
        _, summary, _ = cluster(d, {**settings, "k": k})
        assert summary["resolution"] == resolution and "built in" in summary["resolution_rule"]


def test_communities_do_not_depend_on_the_seed():
    d, _ = _planted(sizes=(3, 3), within=0.3, between=0.6)
    first = cluster(d, SETTINGS)
    for seed in (0, 7, 1234):
        other = cluster(d, {**SETTINGS, "seed": seed})
        assert other[1]["modularity"] == first[1]["modularity"]
        assert list(other[0]["community"]) == list(first[0]["community"]) or not first[1]["community_structure"]


@pytest.mark.parametrize("change, field", [({"k": 6}, "k"), ({"neighbours": 6}, "neighbours")])
def test_a_cut_or_graph_too_large_for_the_models_is_refused(change, field):
    with pytest.raises(ValueError, match=rf"config cluster.{field}: 6 .* 6 models"):
        check_settings({**SETTINGS, **change}, 6)
    check_settings({**SETTINGS, "k": 5, "neighbours": 5}, 6)


@pytest.mark.parametrize(
    "change, message",
    [(lambda d: d.iloc.__setitem__((0, 1), 0.5), "not symmetric"), (lambda d: d.iloc.__setitem__((0, 1), np.nan), "NaN")],
)
def test_bad_matrices_are_refused(change, message):
    d = _five()
    change(d)
    with pytest.raises(ValueError, match=message):
        check_distance(d, "distance.csv")
