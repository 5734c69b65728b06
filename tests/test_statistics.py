"""Image-count influence, family separation, noise floor and cluster stability on small known data."""

import math

import numpy as np
import pandas as pd
import pytest
from conftest import cluster_settings

from xaisim.similarity.aggregate import summarise
from xaisim.statistics.image_count import image_count_influence
from xaisim.statistics.matrix import distance
from xaisim.statistics.noise_floor import noise_floor
from xaisim.statistics.separation import family_separation
from xaisim.statistics.stability import cluster_stability


def _sims(n=40, groups=(0, 0, 0, 1, 1, 1), spread=0.05, seed=0):
    """(n, M, M) per-image similarities: high within a group, low across, with per-image noise."""
    rng = np.random.default_rng(seed)
    g = np.asarray(groups)
    base = np.where(g[:, None] == g[None, :], 0.9, 0.3)
    noise = rng.normal(0, spread, (n, len(g), len(g)))
    sims = np.clip(base + (noise + noise.transpose(0, 2, 1)) / 2, 0, 1)
    sims[:, np.arange(len(g)), np.arange(len(g))] = 1
    return sims


def test_image_count_recomputes_the_distance_of_each_subsample():
    sims = _sims(n=12, groups=(0, 1, 2))
    models = ["a", "b", "c"]
    sums, cells = image_count_influence(sims, models, [4, 12, 30, 8], repetitions=5, seed=3)
    assert sorted(sums["n"].unique()) == [4, 8] and len(sums) == 10  # 12 and 30 skipped (>= N)
    rng = np.random.default_rng(3)
    full = distance(sims)
    first = distance(sims[rng.choice(12, 4, replace=False)])
    iu = np.triu_indices(3, 1)
    assert sums.loc[0, "sum_abs_diff"] == pytest.approx(np.abs(first - full)[iu].sum())
    assert len(cells) == 2 * 3 and (cells["variance"] >= 0).all()
    # more images: closer to the full matrix on average
    by_n = sums.groupby("n")["sum_abs_diff"].mean()
    assert by_n[8] < by_n[4]
    again, _ = image_count_influence(sims, models, [4, 8], repetitions=5, seed=3)
    pd.testing.assert_frame_equal(sums, again)


def test_family_separation_finds_planted_families_and_not_shuffled_ones():
    families = ["cnn"] * 3 + ["transformer"] * 3
    d = distance(_sims())
    planted = family_separation(d, families, n_perm=999, seed=0)
    assert planted["statistic"] > 0.3 and planted["between"] > planted["within"]
    # 6 models: 2 of the 20 distinct labellings (either family on either group) split as planted,
    # and the test enumerates them all: p is exactly its floor, 0.1, whatever the data
    assert planted["p_exact"] and planted["relabellings"] == 20
    assert planted["p"] == pytest.approx(2 / 20) and planted["p_floor"] == pytest.approx(2 / 20)
    shuffled = family_separation(d, ["cnn", "transformer"] * 3, n_perm=999, seed=0)
    assert shuffled["statistic"] < 0 and shuffled["p"] > 0.2


def test_family_separation_with_more_models_reaches_small_p_and_is_seeded():
    groups = (0,) * 6 + (1,) * 6
    d = distance(_sims(groups=groups, seed=1))
    families = ["cnn" if g == 0 else "transformer" for g in groups]
    result = family_separation(d, families, n_perm=999, seed=4)  # 924 labellings: exact
    assert result["p_exact"] and result["p"] == pytest.approx(2 / 924) and result == family_separation(d, families, n_perm=999, seed=4)
    sampled = family_separation(d, families, n_perm=199, seed=4)
    assert not sampled["p_exact"] and sampled["p_floor"] == pytest.approx(1 / 200) and sampled["p"] < 0.01
    rng = np.random.default_rng(0)
    ps = [family_separation(distance(_sims(groups=tuple(rng.permutation(groups)), seed=s)), families,
                            n_perm=199, seed=s)["p"] for s in range(10)]
    assert np.median(ps) > 0.05


def test_family_separation_is_undefined_without_two_families_or_a_within_pair(caplog):
    d = distance(_sims(groups=(0, 1, 2)))
    assert math.isnan(family_separation(d, ["cnn"] * 3)["p"])
    assert "one family" in caplog.text
    assert math.isnan(family_separation(d, ["cnn", "transformer", "hybrid"])["statistic"])
    assert "no within-family pair" in caplog.text


def test_noise_floor_is_the_mean_replicate_distance():
    names = ["r-s0", "r-s1", "r-s2", "vit"]
    d = pd.DataFrame([[0, .1, .2, .8], [.1, 0, .3, .7], [.2, .3, 0, .6], [.8, .7, .6, 0]], names, names)
    table = noise_floor(d, {"r-s0": "r", "r-s1": "r", "r-s2": "r"})
    row = table.iloc[0]
    assert row["replicate_of"] == "r" and row["replicates"] == 3 and row["pairs"] == 3
    assert row["replicate_distance"] == pytest.approx(0.2) and row["replicate_min"] == .1 and row["replicate_max"] == .3
    assert row["other_distance"] == pytest.approx(0.7)


def test_noise_floor_without_replicates_is_an_empty_table(caplog):
    d = pd.DataFrame(np.zeros((2, 2)), ["a", "b"], ["a", "b"])
    assert noise_floor(d, {}).empty and "no model entry has `seeds`" in caplog.text


def test_cluster_stability_is_high_for_clear_clusters_and_lower_for_noise():
    models = [f"m{k}" for k in range(6)]
    settings = cluster_settings(graph="complete")
    clear = cluster_stability(_sims(spread=0.05), models, n_boot=20, settings=settings, seed=0)
    assert len(clear) == 20 and (clear["ari_dendrogram"] == 1).all() and (clear["ari_communities"] == 1).all()
    noise = cluster_stability(_sims(groups=tuple(range(6)), spread=0.4, n=10), models, n_boot=20, settings=settings, seed=0)
    assert noise["ari_dendrogram"].mean() < 0.9
    again = cluster_stability(_sims(groups=tuple(range(6)), spread=0.4, n=10), models, n_boot=20, settings=settings, seed=0)
    pd.testing.assert_frame_equal(noise, again)


def test_distance_is_the_similarity_stages_and_leaves_out_nan():
    sims = _sims(n=6, groups=(0, 1, 2))
    want = summarise(sims, np.ones(sims.shape, bool), n_boot=0, seed=0)["distance"]
    np.testing.assert_allclose(distance(sims), want)
    np.testing.assert_allclose(distance(sims)[0, 1], np.hypot(1 - sims[:, 0, 1].mean(), sims[:, 0, 1].std(ddof=1)))
    sims[2, 0, 1] = sims[2, 1, 0] = np.nan
    kept = np.delete(sims[:, 0, 1], 2)
    assert distance(sims)[0, 1] == pytest.approx(np.hypot(1 - kept.mean(), kept.std(ddof=1)))


def test_stability_with_a_dendrogram_matched_resolution_keeps_the_full_data_choice():
    models = [f"m{k}" for k in range(6)]
    table = cluster_stability(_sims(spread=0.05), models, n_boot=5, settings=cluster_settings(resolution="match_dendrogram"),
                              seed=0)
    assert len(table) == 5 and (table["ari_communities"] == 1).all() and (table["communities"] == 2).all()


def test_tables_over_every_matrix_carry_method_metric_and_variant():
    from xaisim.statistics.noise_floor import noise_floor_table
    from xaisim.statistics.separation import separation_table

    models = ["r-s0", "r-s1", "v", "w"]
    d = pd.DataFrame(distance(_sims(groups=(0, 0, 1, 1))), index=models, columns=models)
    mats = {("ig", "cosine", "all"): d, ("ig", "cosine", "matching"): d.loc[models[:3], models[:3]]}
    sep = separation_table(mats, {"r-s0": "cnn", "r-s1": "cnn", "v": "transformer", "w": "transformer"}, n_perm=99, seed=0)
    assert list(sep["variant"]) == ["all", "matching"] and list(sep["n_models"]) == [4, 3]
    assert sep.loc[0, "p"] == pytest.approx(family_separation(d.to_numpy(), ["cnn", "cnn", "transformer", "transformer"],
                                                                n_perm=99, seed=0)["p"])
    floor = noise_floor_table(mats, {"r-s0": "r", "r-s1": "r"})
    assert list(floor["variant"]) == ["all", "matching"]
    assert floor.loc[0, "replicate_distance"] == pytest.approx(d.loc["r-s0", "r-s1"])
    assert noise_floor_table(mats, {}).empty
