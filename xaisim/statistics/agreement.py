"""Do two models predict alike? Same-prediction fractions, pair counts and error consistency.

- same prediction (:func:`agreement`): fraction of images on which two models predict the same
  class (the validation split);
- comparisons (thesis 20240903): over the explained images, every unordered pair of distinct
  models compared on one image counts once, as same-class or different-class; 14 models x 128
  images make 91 x 128 = 11,648 comparisons;
- error consistency (Geirhos et al. 2020): Cohen's kappa of the correct/wrong patterns of two
  models, kappa = (c_obs - c_exp) / (1 - c_exp) with c_exp = p_i p_j + (1 - p_i)(1 - p_j); NaN (and a
  warning) when c_exp = 1 (both models always right, or always wrong);
- linear CKA of the pre-logit features (:mod:`xaisim.statistics.cka`) and the representation
  references beside it (:mod:`xaisim.statistics.representation`: debiased CKA, Procrustes angular
  distance, mutual-kNN alignment with ``representation.neighbours`` neighbours), in the same job.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from xaisim.io import ArrayFile, write_csv
from xaisim.statistics import STATISTICS, log
from xaisim.statistics.cka import cka_matrix
from xaisim.statistics.representation import debiased_cka_matrix, mutual_knn_matrix, procrustes_matrix


def _frame(predictions: dict[str, pd.DataFrame], column: str) -> pd.DataFrame:
    """image_id x model table of ``column``, on the images every model predicted (same order)."""
    frame = pd.DataFrame({name: df.set_index("image_id")[column] for name, df in predictions.items()})
    if frame.isna().any().any():
        raise ValueError("prediction files cover different images; rerun predict for every model")
    return frame


def agreement(predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Fraction of images on which each pair of models predicts the same class (model x model)."""
    preds = _frame(predictions, "pred")
    values = preds.to_numpy()
    same = (values[:, :, None] == values[:, None, :]).mean(0)
    return pd.DataFrame(same, index=preds.columns, columns=preds.columns)


def comparisons(predictions: dict[str, pd.DataFrame], image_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Same-class counts per model pair on ``image_ids`` and the thesis' totals.

    Returns the model x model matrix of images on which both predict the same class (diagonal: the
    number of images) and a one-row table: images, models, pairs, same_class, different_class.
    """
    preds = _frame(predictions, "pred").loc[image_ids].to_numpy()
    same = (preds[:, :, None] == preds[:, None, :]).sum(0)
    names = list(predictions)
    n_models = len(names)
    pairs = n_models * (n_models - 1) // 2
    same_class = int(same[np.triu_indices(n_models, 1)].sum())
    totals = pd.DataFrame(
        {"images": [len(image_ids)], "models": [n_models], "pairs": [pairs], "comparisons": [pairs * len(image_ids)],
         "same_class": [same_class], "different_class": [pairs * len(image_ids) - same_class]}
    )
    return pd.DataFrame(same, index=names, columns=names), totals


def error_consistency(predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Cohen's kappa of which images two models get wrong (model x model; diagonal 1)."""
    correct = (_frame(predictions, "pred") == _frame(predictions, "label")).to_numpy(dtype=float)
    p = correct.mean(0)
    observed = (correct.T @ correct + (1 - correct).T @ (1 - correct)) / len(correct)
    expected = np.outer(p, p) + np.outer(1 - p, 1 - p)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(expected < 1, (observed - expected) / (1 - expected), np.nan)
    names = list(predictions)
    for i, j in zip(*np.nonzero(np.isnan(kappa))):
        if i < j:
            log.warning("error consistency of %s and %s is undefined: both always right or always wrong", names[i], names[j])
    return pd.DataFrame(kappa, index=names, columns=names)


@STATISTICS.register(
    "agreement",
    reads={"subset": "subset", "predictions": "predictions", "features": "features"},
    writes={"same_prediction": "agreement/same_prediction", "same_class": "agreement/same_class_counts",
            "comparisons": "agreement/comparisons", "error_consistency": "agreement/error_consistency", "cka": "cka",
            "debiased_cka": "representation/debiased_cka", "procrustes": "representation/procrustes",
            "mutual_knn": "representation/mutual_knn"},
    report={"same_class": "same-class counts", "debiased_cka": "debiased CKA",
            "procrustes": "Procrustes distance", "mutual_knn": "mutual kNN alignment"},
    settings=["representation.neighbours"],
    context=["models"],
    figures={"references": "once", "representations": "once"},
    resources={"mem_mb": 2000, "runtime": 10},
)
def agreement_tables(inputs: Mapping[str, str | Sequence[str]], tables: Mapping[str, str], *, models: list[str],
                     neighbours: int) -> None:
    """Same prediction, same-class counts and totals, error consistency, CKA and the representation
    references of ``models`` (mutual kNN with ``neighbours`` neighbours)."""
    preds = {m: pd.read_csv(p, dtype={"image_id": str}) for m, p in zip(models, inputs["predictions"])}
    ids = list(pd.read_csv(inputs["subset"], dtype={"image_id": str})["image_id"])
    same_class, totals = comparisons(preds, ids)
    write_csv(agreement(preds), tables["same_prediction"], float_format="%.8g")
    write_csv(same_class, tables["same_class"])
    write_csv(totals, tables["comparisons"], index=False)
    write_csv(error_consistency(preds), tables["error_consistency"], float_format="%.8g")
    features = {}
    for model, path in zip(models, inputs["features"]):
        f = ArrayFile(path)
        if f.meta["image_ids"] != ids:
            raise ValueError(f"{path}: features of other images than {inputs['subset']}; rerun predict for {model}")
        features[model] = f.read("features")
    write_csv(cka_matrix(features), tables["cka"], float_format="%.8g")
    write_csv(debiased_cka_matrix(features), tables["debiased_cka"], float_format="%.8g")
    write_csv(procrustes_matrix(features), tables["procrustes"], float_format="%.8g")
    write_csv(mutual_knn_matrix(features, neighbours), tables["mutual_knn"], float_format="%.8g")
