"""Do model families explain differently? A permutation test on the distance matrix.

Statistic: mean distance between models of different families minus mean distance within a family
(off-diagonal pairs only); positive when families separate. The null permutes the family labels
over the models (seeded); p = (1 + #{stat_perm >= stat}) / (1 + n_perm), one-sided. Undefined (NaN
and a warning) with a single family, or when no family has two members (no within-family pair).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from xaisim.statistics import undefined


def _statistic(d: np.ndarray, labels: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Between-minus-within mean distance for each row of labels (P, M)."""
    same = labels[:, i] == labels[:, j]
    vals = d[i, j]
    within = (same * vals).sum(1) / same.sum(1)
    between = (~same * vals).sum(1) / (~same).sum(1)
    return between - within


def family_separation(distance: np.ndarray, families: Sequence[str], *, n_perm: int = 999, seed: int = 0,
                      what: str = "family separation") -> dict[str, float]:
    """Within and between mean distances, their difference and its permutation p-value."""
    d = np.asarray(distance, dtype=np.float64)
    labels = np.unique(np.asarray(families), return_inverse=True)[1]
    i, j = np.triu_indices(len(d), 1)
    same = labels[i] == labels[j]
    nan = {"within": np.nan, "between": np.nan, "statistic": np.nan, "p": np.nan}
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
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((n_perm, len(d))), axis=1)
    null = _statistic(d, labels[perms], i, j)
    p = (1 + np.count_nonzero(null >= stat - 1e-12)) / (1 + n_perm)
    return {"within": float(d[i, j][same].mean()), "between": float(d[i, j][~same].mean()), "statistic": stat, "p": float(p)}


def separation_table(
    distances: Mapping[tuple[str, str, str], pd.DataFrame], families: Mapping[str, str], *, n_perm: int, seed: int,
) -> pd.DataFrame:
    """One row per (method, metric, variant) distance matrix: within, between, statistic, p and counts."""
    rows = []
    for (method, metric, variant), d in distances.items():
        labels = [families[m] for m in d.index]
        result = family_separation(d.to_numpy(dtype=float), labels, n_perm=n_perm, seed=seed,
                                   what=f"family separation of {method}/{metric}/{variant}")
        rows.append({"method": method, "metric": metric, "variant": variant, **result, "n_perm": n_perm,
                     "n_models": len(d), "families": len(set(labels))})
    return pd.DataFrame(rows, columns=["method", "metric", "variant", "within", "between", "statistic", "p", "n_perm",
                                       "n_models", "families"])
