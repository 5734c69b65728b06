import numpy as np
import pandas as pd
import pytest
from scipy.cluster import hierarchy

from xaisim.cluster import check_distance, cluster_table, linkage, louvain


def _blocks():
    names = ["a1", "a2", "a3", "b1", "b2", "b3"]
    d = np.full((6, 6), 0.9)
    d[:3, :3] = d[3:, 3:] = 0.1
    np.fill_diagonal(d, 0)
    return pd.DataFrame(d, index=names, columns=names)


def test_linkage_is_scipys_average_linkage():
    d = _blocks()
    z = linkage(d, "average")
    assert z[-1, 2] == pytest.approx(0.9)
    assert set(hierarchy.fcluster(z, 2, "maxclust")[:3]) != set(hierarchy.fcluster(z, 2, "maxclust")[3:])


def test_louvain_finds_the_two_blocks_and_is_seeded():
    parts = louvain(_blocks(), resolution=1.0, seed=42)
    assert parts["a1"] == parts["a2"] == parts["a3"] != parts["b1"] == parts["b2"] == parts["b3"]
    assert parts == louvain(_blocks(), resolution=1.0, seed=42)


def test_cluster_table_orders_every_model_once():
    table, z = cluster_table(_blocks(), "average", 1.0, 42)
    assert sorted(table["leaf_order"]) == list(range(6))
    assert table["community"].nunique() == 2


@pytest.mark.parametrize(
    "change, message",
    [(lambda d: d.iloc.__setitem__((0, 1), 0.5), "not symmetric"), (lambda d: d.iloc.__setitem__((0, 1), np.nan), "NaN")],
)
def test_bad_matrices_are_refused(change, message):
    d = _blocks()
    change(d)
    with pytest.raises(ValueError, match=message):
        check_distance(d, "distance.csv")


def test_similarity_graph_weights_are_one_minus_distance_without_self_loops():
    from xaisim.cluster import similarity_graph

    d = pd.DataFrame([[0, 1, 0.5], [1, 0, 0.2], [0.5, 0.2, 0]], index=list("abc"), columns=list("abc"))
    g = similarity_graph(d)
    assert sorted(g.nodes) == ["a", "b", "c"] and not g.has_edge("a", "b") and not g.has_edge("a", "a")
    assert g.edges["a", "c"]["weight"] == pytest.approx(0.5) and g.edges["b", "c"]["weight"] == pytest.approx(0.8)
