"""Statistics on study shapes that used to crash the last jobs of a run: the study goes on."""

import logging

import numpy as np
from conftest import cluster_settings
from test_statistics import _sims

from xaisim.statistics.stability import COLUMNS, cluster_stability


def test_a_model_with_all_zero_maps_is_left_out_of_stability_by_name(caplog):
    sims = _sims(groups=(0, 0, 0, 1, 1, 1, 2))
    sims[:, 6, :] = sims[:, :, 6] = np.nan  # model m6's maps were all zero: no similarity to anyone
    models = [f"m{k}" for k in range(7)]
    with caplog.at_level(logging.WARNING):
        table = cluster_stability(sims, models, n_boot=5, settings=cluster_settings(), seed=0, label="GradCAM/cosine")
    assert "cluster stability of GradCAM/cosine: m6 left out" in caplog.text
    clean = cluster_stability(sims[:, :6, :6], models[:6], n_boot=5, settings=cluster_settings(), seed=0)
    assert len(table) == 5 and table.equals(clean)  # the other six, as if m6 had never been there


def test_a_method_that_explains_one_model_gives_an_empty_stability_table_and_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        table = cluster_stability(np.ones((10, 1, 1)), ["vit"], n_boot=5, settings=cluster_settings(), seed=0,
                                  label="Rollout/cosine")
    assert table.empty and list(table.columns) == COLUMNS
    assert "cluster stability of Rollout/cosine: 1 model(s) with finite distances; it needs 2" in caplog.text


def test_every_model_without_finite_distances_gives_an_empty_table():
    sims = np.full((10, 3, 3), np.nan)
    assert cluster_stability(sims, ["a", "b", "c"], n_boot=3, settings=cluster_settings(), seed=0).empty



def test_a_configured_cut_or_graph_too_large_for_a_matrix_is_capped_with_one_warning(caplog):
    # the config names 7 models (k=5, neighbours=6 pass its check); the method explains 4 of them
    import pandas as pd

    from xaisim.cluster import cluster
    from xaisim.statistics.matrix import distance

    sims, models = _sims(groups=(0, 0, 1, 1)), ["a", "b", "c", "d"]
    settings = cluster_settings(k=5, neighbours=6)
    with caplog.at_level(logging.WARNING):
        table, summary, _ = cluster(pd.DataFrame(distance(sims), index=models, columns=models), settings)
    assert summary["k"] == 3 and summary["neighbours"] == 3 and table["cluster"].nunique() == 3
    assert caplog.text.count("cluster.k=5 is not below the 4 model(s) of this matrix: 3 used") == 1
    assert caplog.text.count("cluster.neighbours=6 is not below the 4 model(s)") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        stability = cluster_stability(sims, models, n_boot=4, settings=settings, seed=0)
    assert len(stability) == 4 and (stability["clusters_dendrogram"] <= 3).all()
    assert caplog.text.count("cluster.k=5") == 1
