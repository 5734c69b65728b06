"""Per-pair summaries over images, the image variants, and the similarity stage's output files.

For each model pair and variant (the images it uses), over the images where the pair has a value
(see the zero-map policy): ``mean``, unbiased ``std``, ``distance`` = sqrt((1 - mean)^2 + std^2),
and a seeded bootstrap 95 % percentile interval of the mean over images (``ci_low``, ``ci_high``).
Variants: ``all`` images, and ``matching``: only the images where both models predicted the same
class (thesis 20240417). A pair with no image gets NaN (and a warning), one image gives NaN std.

Layout under ``results/similarity/{method}/`` (:func:`output_paths`, from :mod:`xaisim.paths`)::

    zero_maps.csv                               per model: images, zero_maps, nonfinite_maps, unsupported
    {metric}/per_image.safetensors              (N, M, M) float64 "similarity", NaN = left out
    {metric}/{variant}/{stat}.csv               model x model; stat in STATS, variant in VARIANTS
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd

from xaisim import paths as P
from xaisim.io import save_arrays, write_csv

log = logging.getLogger(__name__)
VARIANTS = ("all", "matching")
STATS = ("mean", "std", "distance", "ci_low", "ci_high")


def output_paths(method: str, metrics: Sequence[str]) -> list[str]:
    """Every file the similarity job of ``method`` writes (:mod:`xaisim.paths`): zero_maps.csv first."""
    paths = [P.fill(P.ZERO_MAPS, method=method)]
    for metric in metrics:
        paths.append(P.fill(P.PER_IMAGE, method=method, metric=metric))
        paths += [P.fill(P.MATRIX, method=method, metric=metric, variant=v, stat=s) for v in VARIANTS for s in STATS]
    return paths


def same_prediction(predictions: Sequence[str], image_ids: Sequence[str]) -> np.ndarray:
    """(N, M, M) bool: both models (their predict stage CSVs, in order) predicted the same class."""
    preds = []
    for path in predictions:
        table = pd.read_csv(path, dtype={"image_id": str}).set_index("image_id")
        missing = set(image_ids) - set(table.index)
        if missing:
            raise ValueError(f"{path}: no prediction for {len(missing)} explained images; rerun predict")
        preds.append(table.loc[list(image_ids), "pred"].to_numpy())
    p = np.stack(preds, 1) if preds else np.zeros((len(image_ids), 0), dtype=np.int64)
    return p[:, :, None] == p[:, None, :]


def summarise(sims: np.ndarray, use: np.ndarray, n_boot: int, seed: int) -> dict[str, np.ndarray]:
    """STATS over images of (N, M, M) ``sims`` where ``use`` (N, M, M) is true and the value is not NaN."""
    valid = use & ~np.isnan(sims)
    values = np.where(valid, sims, 0.0)
    count = valid.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(0) / count
        sq = np.where(valid, sims - mean, 0.0) ** 2
        std = np.sqrt(sq.sum(0) / (count - 1))
    mean[count == 0] = np.nan
    std[count < 2] = np.nan
    low, high = bootstrap(values, valid, n_boot, seed)
    return {"mean": mean, "std": std, "distance": np.sqrt((1 - mean) ** 2 + std**2), "ci_low": low, "ci_high": high}


def bootstrap(values: np.ndarray, valid: np.ndarray, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """2.5 and 97.5 percentiles of the pair means over ``n_boot`` seeded resamples of the images."""
    n, m, _ = values.shape
    if n_boot == 0 or n == 0 or m == 0:
        nan = np.full((m, m), np.nan)
        return nan, nan.copy()
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=n_boot).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (weights @ values.reshape(n, -1)) / (weights @ valid.reshape(n, -1).astype(np.float64))
    with warnings.catch_warnings():  # pairs without any value: all-NaN columns give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(means, [2.5, 97.5], axis=0)
    return low.reshape(m, m), high.reshape(m, m)


def write(
    method: str,
    result: Any,
    same: np.ndarray,
    metrics: dict[str, tuple[str, dict[str, Any]]],
    meta: dict[str, Any],
    *,
    n_boot: int,
    seed: int,
) -> None:
    """Write every output of :func:`output_paths` for one method's :class:`~xaisim.similarity.stream.Pass`."""
    write_csv(result.counts, P.fill(P.ZERO_MAPS, method=method), index=False)
    models = result.models
    uses = {"all": np.ones_like(same), "matching": same}
    for name, (metric, params) in metrics.items():
        sims = result.sims[name]
        save_arrays(
            P.fill(P.PER_IMAGE, method=method, metric=name),
            {"similarity": sims},
            {**meta, "image_ids": result.image_ids, "models": models, "metric": name, "metric_key": metric,
             "metric_params": params, "grid": list(result.grid)},
        )
        for variant, use in uses.items():
            stats = summarise(sims, use, n_boot, seed)
            empty = [f"{a}/{b}" for i, a in enumerate(models) for b in models[i:] if np.isnan(stats["mean"][i, models.index(b)])]
            if empty:
                log.warning("%s/%s/%s: no image for %d pair(s): %s -> NaN", method, name, variant, len(empty), ", ".join(empty))
            for stat, matrix in stats.items():
                frame = pd.DataFrame(matrix, index=models, columns=models)
                write_csv(frame, P.fill(P.MATRIX, method=method, metric=name, variant=variant, stat=stat), float_format="%.10g")
