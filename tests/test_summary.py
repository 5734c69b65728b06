"""summary.md says in words what the evidence supports: no community structure, cannot reject."""

import numpy as np
import pandas as pd
from conftest import cluster_settings

from xaisim.cluster import cluster
from xaisim.statistics.mantel import REFERENCES, mantel_table, pairs_to_test
from xaisim.statistics.noise_floor import noise_floor_table
from xaisim.statistics.separation import separation_table
from xaisim.summary import summary_text


def _two_families(per_family: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], per_family)
    d = np.where(labels[:, None] == labels[None, :], 0.2, 0.7) + rng.uniform(-0.02, 0.02, (len(labels),) * 2)
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0)
    names = [f"c{i}" for i in range(per_family)] + [f"t{i}" for i in range(per_family)]
    return pd.DataFrame(d, names, names)


def _page(d: pd.DataFrame, saturated: object = "", undetermined: object = "") -> str:
    families = {n: "cnn" if n.startswith("c") else "transformer" for n in d.index}
    key = ("gc", "cos", "all")
    matrices = {ref: 1 - d for ref in REFERENCES} | {"gc/cos/all/mean": 1 - d, "gc/cos/all/distance": d}
    table, info, _ = cluster(d, cluster_settings(null_draws=99))
    accuracy = pd.DataFrame({"model": d.index, "family": [families[n] for n in d.index], "val_accuracy": 0.9,
                             "val_accuracy_centre_crop": 0.9})
    outcomes = pd.DataFrame({"method": "gc", "model": d.index, "outcome": "explained", "reason": "",
                             "zero_maps": 0 if saturated == "" else saturated, "saturated": saturated,
                             "undetermined": undetermined})
    return summary_text(accuracy, {key: (table, info)}, outcomes,
                        mantel_table(matrices, pairs_to_test(REFERENCES, [key]), n_perm=999, seed=0),
                        separation_table({key: d}, families, n_perm=999, seed=0), noise_floor_table({key: d}, {}))


def test_three_and_three_models_cannot_reject_and_say_why():
    page = _page(_two_families(3))
    assert "Cannot reject: with these families the smallest attainable p is 0.1 (20 distinct labellings)" in page
    assert "Mantel tests were run" in page and "(exact)" in page  # 6 models: all 720 orders


def test_four_and_four_models_can_reject_and_communities_beat_the_null():
    page = _page(_two_families(4))
    assert "Cannot reject" not in page and "families explain differently there" in page
    assert "1 of 1 matrices has community structure" in page
    assert "{c0, c1, c2, c3}; {t0, t1, t2, t3}" in page


def test_near_equal_distances_say_no_community_structure():
    rng = np.random.default_rng(3)
    d = 0.5 + rng.uniform(-0.01, 0.01, (6, 6))
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0)
    names = ["c0", "c1", "c2", "t0", "t1", "t2"]
    page = _page(pd.DataFrame(d, names, names))
    assert "| no community structure |" in page and "no matrix shows community structure beyond chance" in page


def test_saturated_images_are_listed_only_where_there_are_some():
    d = _two_families(3)
    assert "Saturated" not in _page(d)
    counts = [0, 3, 0, 0, 0, 1]
    page = _page(d, counts)
    assert "All-zero maps (left out of the pairs that involve them): c1/gc: 3, t2/gc: 1" in page
    assert "Saturated images (gradient similarity" in page and "among the all-zero maps): c1/gc: 3, t2/gc: 1." in page


def test_underdetermined_kernelshap_maps_are_listed_only_where_there_are_some():
    d = _two_families(3)
    assert "Underdetermined" not in _page(d)
    page = _page(d, undetermined=[0, 0, 2, 0, 0, 0])
    assert "Underdetermined maps (KernelSHAP: more segments than `n_samples` determine" in page and "c2/gc: 2." in page
