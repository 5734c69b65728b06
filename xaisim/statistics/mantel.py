"""Mantel tests: are two model x model matrices correlated beyond chance?

The statistic is the Pearson (or Spearman: Pearson of ranks) correlation of the off-diagonal upper
triangles. Its null distribution permutes the models of one matrix (rows and columns together)
with seeded permutations; p = (1 + #{|r_perm| >= |r|}) / (1 + n_perm) (two-sided). With M models
there are only M! distinct permutations: with fewer than 3 models r is undefined (NaN, warning),
and p cannot go below 1/M!.
"""

from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from xaisim.io import read_matrix, write_csv
from xaisim.statistics import STATISTICS, undefined

METHODS = ("pearson", "spearman")
# model-level matrices every explanation matrix is tested against: same-class counts on the explained
# images (the thesis' agreement), error consistency and CKA (the statistics stage's agreement job)
REFERENCES = ("agreement", "error_consistency", "cka")


def _standardise(v: np.ndarray) -> np.ndarray:
    v = v - v.mean(-1, keepdims=True)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def mantel(a: np.ndarray, b: np.ndarray, *, method: str = "pearson", n_perm: int = 999, seed: int = 0,
           what: str = "Mantel test") -> tuple[float, float]:
    """Correlation r of the upper triangles of two square matrices and its permutation p-value."""
    if method not in METHODS:
        raise ValueError(f"unknown Mantel method {method!r}; known: {', '.join(METHODS)}")
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{what}: needs two square matrices of the same size, got {a.shape} and {b.shape}")
    a, b = (a + a.T) / 2, (b + b.T) / 2
    m = len(a)
    if m < 3:
        return undefined(what, f"{m} models give fewer than 3 pairs"), float("nan")
    i, j = np.triu_indices(m, 1)
    va, vb = a[i, j], b[i, j]
    if not (np.isfinite(va).all() and np.isfinite(vb).all()):
        return undefined(what, "a matrix has NaN or infinite entries"), float("nan")
    if np.ptp(va) == 0 or np.ptp(vb) == 0:
        return undefined(what, "a matrix is constant off the diagonal"), float("nan")
    if method == "spearman":
        # ranks of the whole symmetric matrix's pairs: permuting models permutes pairs, so ranks follow
        a = np.zeros_like(a)
        a[i, j] = a[j, i] = rankdata(va)
        va, vb = a[i, j], rankdata(vb)
    zb = _standardise(vb)
    r = float(_standardise(va) @ zb)
    perms = np.argsort(np.random.default_rng(seed).random((n_perm, m)), axis=1)
    null = _standardise(a[perms[:, i], perms[:, j]]) @ zb
    p = (1 + np.count_nonzero(np.abs(null) >= abs(r) - 1e-12)) / (1 + n_perm)
    return r, float(p)


def pairs_to_test(references: Sequence[str], explanations: Sequence[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """The matrix pairs to test, by name.

    ``references`` are model-level matrices (agreement, error consistency, CKA); an explanation
    (method, metric, variant) gives the names ``method/metric/variant/mean`` (similarity) and
    ``.../distance``. Pairs: every two references; every reference with every explanation mean and
    distance; every two methods (same metric and variant) and every two metrics (same method and
    variant) by distance.
    """
    pairs = list(itertools.combinations(references, 2))
    for method, metric, variant in explanations:
        pairs += [(ref, f"{method}/{metric}/{variant}/{kind}") for ref in references for kind in ("mean", "distance")]
    for (m1, k1, v1), (m2, k2, v2) in itertools.combinations(explanations, 2):
        if v1 == v2 and (m1 == m2) != (k1 == k2):
            pairs.append((f"{m1}/{k1}/{v1}/distance", f"{m2}/{k2}/{v2}/distance"))
    return pairs


def mantel_table(matrices: Mapping[str, pd.DataFrame], pairs: Sequence[tuple[str, str]], *, n_perm: int, seed: int) -> pd.DataFrame:
    """One row per pair and method: a, b, method, r, p, n_perm, n_models (on the models both name)."""
    rows = []
    for a, b in pairs:
        models = [m for m in matrices[a].index if m in matrices[b].index]
        ma = matrices[a].loc[models, models].to_numpy(dtype=float)
        mb = matrices[b].loc[models, models].to_numpy(dtype=float)
        for method in METHODS:
            r, p = mantel(ma, mb, method=method, n_perm=n_perm, seed=seed, what=f"Mantel {method} of {a} and {b}")
            rows.append({"a": a, "b": b, "method": method, "r": r, "p": p, "n_perm": n_perm, "n_models": len(models)})
    return pd.DataFrame(rows, columns=["a", "b", "method", "r", "p", "n_perm", "n_models"])


@STATISTICS.register(
    "mantel",
    reads={"agreement": "agreement/same_class_counts", "error_consistency": "agreement/error_consistency",
           "cka": "cka", "means": "mean", "distances": "distance"},
    writes={"mantel": "mantel"},
    report={"mantel": "Mantel tests"},
    settings=["permutations", "seed"],
    context=["explanations"],
    figures={"mantel": "matrices"},
    resources={"mem_mb": 2000, "runtime": 30},
)
def mantel_tests(
    inputs: Mapping[str, str | Sequence[str]], tables: Mapping[str, str], *, explanations: list[str],
    permutations: int, seed: int,
) -> None:
    """Every pair of :func:`pairs_to_test` over the references and each explanation's mean and distance."""
    matrices = {name: read_matrix(inputs[name]) for name in REFERENCES}
    for key, mean, dist in zip(explanations, inputs["means"], inputs["distances"]):
        matrices[f"{key}/mean"], matrices[f"{key}/distance"] = read_matrix(mean), read_matrix(dist)
    pairs = pairs_to_test(REFERENCES, [tuple(key.split("/")) for key in explanations])
    table = mantel_table(matrices, pairs, n_perm=permutations, seed=seed)
    write_csv(table, tables["mantel"], index=False, float_format="%.6g")
