"""Do model families explain differently? A permutation test on the distance matrix.

Statistic: mean distance between models of different families minus mean distance within a family
(off-diagonal pairs only); positive when families separate. The null assigns the family labels to
the models anew, one-sided: every distinct assignment when there are at most ``n_perm`` (an exact
p; 3 + 3 models have 20, so p >= 0.1 whatever the data, 4 + 4 have 70), else ``n_perm`` distinct
seeded ones (:mod:`.permutation`). Each row states whether p is exact and its smallest attainable
value; the tests of all matrices form one family with Benjamini-Hochberg q-values. Undefined (NaN
and a warning) with a single family, or when no family has two members (no within-family pair).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from xaisim.statistics import undefined
from xaisim.statistics.permutation import label_assignments, q_values

COLUMNS = ["method", "metric", "variant", "within", "between", "statistic", "p", "p_exact", "p_floor", "q",
           "relabellings", "n_models", "families"]


def _statistic(d: np.ndarray, labels: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Between-minus-within mean distance for each row of labels (P, M)."""
    same = labels[:, i] == labels[:, j]
    vals = d[i, j]
    within = (same * vals).sum(1) / same.sum(1)
    between = (~same * vals).sum(1) / (~same).sum(1)
    return between - within


def family_separation(distance: np.ndarray, families: Sequence[str], *, n_perm: int = 999, seed: int = 0,
                      what: str = "family separation") -> dict[str, float]:
    """Within and between mean distances, their difference, its permutation p-value, the smallest
    attainable p, whether p is exact and the relabellings it used."""
    d = np.asarray(distance, dtype=np.float64)
    labels = np.unique(np.asarray(families), return_inverse=True)[1]
    i, j = np.triu_indices(len(d), 1)
    same = labels[i] == labels[j]
    nan = {"within": np.nan, "between": np.nan, "statistic": np.nan, "p": np.nan, "p_exact": False, "p_floor": np.nan,
           "relabellings": 0}
    if same.all():
        undefined(what, "all models belong to one family")
        return nan
    if not same.any():
        undefined(what, "no family has two models (no within-family pair)")
        return nan
    if not np.isfinite(d[i, j]).all():
        undefined(what, "the distance matrix has NaN or infinite entries")
        return nan
    stat = float(_statistic(d, labels[None], i, j)[0])
    assignments = label_assignments(labels, n_perm, seed)
    p, floor = assignments.p_value(stat, _statistic(d, assignments.relabellings, i, j))
    return {"within": float(d[i, j][same].mean()), "between": float(d[i, j][~same].mean()), "statistic": stat, "p": p,
            "p_exact": assignments.exact, "p_floor": floor, "relabellings": len(assignments.relabellings)}


def separation_table(
    distances: Mapping[tuple[str, str, str], pd.DataFrame], families: Mapping[str, str], *, n_perm: int, seed: int,
) -> pd.DataFrame:
    """One row per (method, metric, variant) distance matrix: within, between, statistic, p and counts."""
    rows = []
    for (method, metric, variant), d in distances.items():
        labels = [families[m] for m in d.index]
        result = family_separation(d.to_numpy(dtype=float), labels, n_perm=n_perm, seed=seed,
                                   what=f"family separation of {method}/{metric}/{variant}")
        rows.append({"method": method, "metric": metric, "variant": variant, **result,
                     "n_models": len(d), "families": len(set(labels))})
    table = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "q"])
    table["q"] = q_values(table["p"].to_numpy(dtype=float))
    return table[COLUMNS]
