"""Image-count influence (:mod:`.image_count`) and cluster stability (:mod:`.stability`) from the
per-image similarities of every method/metric, in one job."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from xaisim.io import ArrayFile, write_csv
from xaisim.statistics import STATISTICS
from xaisim.statistics.image_count import image_count_influence
from xaisim.statistics.stability import cluster_stability


@STATISTICS.register(
    "resampling",
    reads={"per_image": "per_image"},
    writes={"image_count": "image_count", "variance": "image_count_variance", "stability": "stability"},
    report={"stability": "cluster stability"},
    settings=["image_counts", "repetitions", "bootstrap", "seed"],
    context=["matrices", "cluster"],
    figures={"image_count": "matrices", "stability": "matrices"},
    resources={"mem_mb": 2000, "runtime": 30},
)
def resampling(
    inputs: Mapping[str, Sequence[str]], tables: Mapping[str, str], *, matrices: list[str], cluster: dict[str, Any],
    image_counts: list[int], repetitions: int, bootstrap: int, seed: int,
) -> None:
    """Per method/metric: subsample distances per image count, bootstrap clusterings' ARI."""
    sums, cells, stability = [], [], []
    for key, path in zip(matrices, inputs["per_image"]):
        method, metric = key.split("/")
        f = ArrayFile(path)
        sims, models = f.read("similarity"), f.meta["models"]
        s, v = image_count_influence(sims, models, image_counts, repetitions, seed)
        b = cluster_stability(sims, models, n_boot=bootstrap, settings=cluster, seed=seed, label=key)
        for table, found in ((s, sums), (v, cells), (b, stability)):
            found.append(table.assign(method=method, metric=metric)[["method", "metric", *table.columns]])
    write_csv(pd.concat(sums, ignore_index=True), tables["image_count"], index=False, float_format="%.8g")
    write_csv(pd.concat(cells, ignore_index=True), tables["variance"], index=False, float_format="%.8g")
    write_csv(pd.concat(stability, ignore_index=True), tables["stability"], index=False, float_format="%.6g")
