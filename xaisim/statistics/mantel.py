"""Mantel tests: are two model x model matrices correlated beyond chance?

The statistic is the Pearson (or Spearman: Pearson of ranks) correlation of the off-diagonal upper
triangles. Its null permutes the models of one matrix (rows and columns together), two-sided
(|r|): every one of the M! orders when M! <= ``n_perm`` (an exact p), else ``n_perm`` distinct
seeded orders (:mod:`.permutation`); each row states whether p is exact and its smallest attainable
value. Families of tests get Benjamini-Hochberg q-values: the tests against one reference matrix,
the tests between references, and the tests between explanations, each per correlation method.
With fewer than 3 models r is undefined (NaN, warning).

Confound references (:func:`confounds`): a method's model x model complexity differences
(:mod:`.complexity`, named ``<measure>_difference/<method>``) are tested against that method's
explanation means and distances only, each its own family.

Evidence references (:mod:`.cross_deletion`, where it runs): each map method's cross-model deletion
distance, named ``cross_deletion/<method>``, is a reference like the model-level ones (tested with
the other references and every explanation mean and distance, its own family).
"""

from __future__ import annotations

import itertools
import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from xaisim.io import read_matrix, write_csv
from xaisim.statistics import STATISTICS, undefined
from xaisim.statistics.permutation import model_orders, q_values

METHODS = ("pearson", "spearman")
COLUMNS = ["a", "b", "method", "r", "p", "p_exact", "p_floor", "family", "q", "relabellings", "n_models"]
# model-level matrices every explanation matrix is tested against: same-class counts on the explained
# images (the thesis' agreement), error consistency and CKA (the statistics stage's agreement job)
REFERENCES = ("agreement", "error_consistency", "cka")
# the representation references beside linear CKA (:mod:`.representation`), tested like it
REPRESENTATIONS = ("debiased_cka", "procrustes", "mutual_knn")


def _standardise(v: np.ndarray) -> np.ndarray:
    v = v - v.mean(-1, keepdims=True)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def mantel(a: np.ndarray, b: np.ndarray, *, method: str = "pearson", n_perm: int = 999, seed: int = 0,
           what: str = "Mantel test") -> tuple[float, float, float, bool]:
    """Correlation r of the upper triangles of two square matrices, its permutation p-value, the
    smallest p the test can give and whether p is exact (every order enumerated)."""
    if method not in METHODS:
        raise ValueError(f"unknown Mantel method {method!r}; known: {', '.join(METHODS)}")
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{what}: needs two square matrices of the same size, got {a.shape} and {b.shape}")
    a, b = (a + a.T) / 2, (b + b.T) / 2
    m = len(a)
    nan = float("nan")
    if m < 3:
        return undefined(what, f"{m} models give fewer than 3 pairs"), nan, nan, False
    i, j = np.triu_indices(m, 1)
    va, vb = a[i, j], b[i, j]
    if not (np.isfinite(va).all() and np.isfinite(vb).all()):
        return undefined(what, "a matrix has NaN or infinite entries"), nan, nan, False
    if np.ptp(va) == 0 or np.ptp(vb) == 0:
        return undefined(what, "a matrix is constant off the diagonal"), nan, nan, False
    if method == "spearman":
        # ranks of the whole symmetric matrix's pairs: permuting models permutes pairs, so ranks follow
        a = np.zeros_like(a)
        a[i, j] = a[j, i] = rankdata(va)
        va, vb = a[i, j], rankdata(vb)
    zb = _standardise(vb)
    r = float(_standardise(va) @ zb)
    orders = model_orders(m, n_perm, seed)
    perms = orders.relabellings
    null = _standardise(a[perms[:, i], perms[:, j]]) @ zb
    p, floor = orders.p_value(abs(r), np.abs(null))
    return r, p, floor, orders.exact


def test_family(a: str, b: str, method: str, references: Sequence[str]) -> str:
    """The family a test's q-value is computed in: its reference matrix, the references among
    themselves, or the explanations among themselves; per correlation method."""
    if a in references and b in references:
        return f"references/{method}"
    if a in references:
        return f"{a}/{method}"
    return f"explanations/{method}"


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


def confounds(differences: pd.DataFrame) -> dict[str, tuple[str, pd.DataFrame]]:
    """``<measure>_difference/<method>`` -> (method, model x model matrix, diagonal 0) of a long
    table with columns method, measure, a, b, difference (:func:`xaisim.statistics.complexity.differences`)."""
    out = {}
    for (method, measure), g in differences.groupby(["method", "measure"], sort=False):
        models = list(dict.fromkeys([*g["a"], *g["b"]]))
        m = pd.DataFrame(0.0, index=models, columns=models)
        for r in g.itertuples():
            m.loc[r.a, r.b] = m.loc[r.b, r.a] = r.difference
        out[f"{measure}_difference/{method}"] = (method, m)
    return out


def confound_pairs(confounds: Mapping[str, str], explanations: Sequence[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """Each confound (name -> the method it describes) with that method's explanation means and distances."""
    return [(name, f"{method}/{metric}/{variant}/{kind}") for name, of in confounds.items()
            for method, metric, variant in explanations if method == of for kind in ("mean", "distance")]


def mantel_table(matrices: Mapping[str, pd.DataFrame], pairs: Sequence[tuple[str, str]], *, n_perm: int, seed: int,
                 references: Sequence[str] = REFERENCES) -> pd.DataFrame:
    """One row per pair and method: a, b, method, r, p, whether p is exact, its floor, the test's
    family (:func:`test_family` over ``references``) and its BH q-value in that family, the
    relabellings used, n_models (the models both name)."""
    rows = []
    for a, b in pairs:
        models = [m for m in matrices[a].index if m in matrices[b].index]
        ma = matrices[a].loc[models, models].to_numpy(dtype=float)
        mb = matrices[b].loc[models, models].to_numpy(dtype=float)
        for method in METHODS:
            r, p, floor, exact = mantel(ma, mb, method=method, n_perm=n_perm, seed=seed,
                                        what=f"Mantel {method} of {a} and {b}")
            relabellings = math.factorial(len(models)) if exact else n_perm
            rows.append({"a": a, "b": b, "method": method, "r": r, "p": p, "p_exact": exact, "p_floor": floor,
                         "family": test_family(a, b, method, references), "relabellings": relabellings,
                         "n_models": len(models)})
    table = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "q"])
    table["q"] = np.nan
    for _, rows_of in table.groupby("family").groups.items():
        table.loc[rows_of, "q"] = q_values(table.loc[rows_of, "p"].to_numpy())
    return table[COLUMNS]


@STATISTICS.register(
    "mantel",
    reads={"agreement": "agreement/same_class_counts", "error_consistency": "agreement/error_consistency",
           "cka": "cka", "debiased_cka": "representation/debiased_cka", "procrustes": "representation/procrustes",
           "mutual_knn": "representation/mutual_knn", "means": "mean", "distances": "distance"},
    optional={"complexity": "complexity/differences", "cross_deletion": "cross_deletion/distance"},
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
    """Every pair of :func:`pairs_to_test` over the references (and the representation references)
    and each explanation's mean and distance, and the :func:`confound_pairs` of the complexity
    differences where the complexity statistic runs; the cross-deletion distances are references
    where that statistic runs."""
    references = (*REFERENCES, *REPRESENTATIONS)
    matrices = {name: read_matrix(inputs[name]) for name in references}
    if "cross_deletion" in inputs:
        from xaisim.io import unstacked

        evidence = {f"cross_deletion/{m}": d for m, d in unstacked(pd.read_csv(inputs["cross_deletion"])).items()}
        matrices.update(evidence)
        references = (*references, *evidence)
    for key, mean, dist in zip(explanations, inputs["means"], inputs["distances"]):
        matrices[f"{key}/mean"], matrices[f"{key}/distance"] = read_matrix(mean), read_matrix(dist)
    found = confounds(pd.read_csv(inputs["complexity"])) if "complexity" in inputs else {}
    matrices.update({name: m for name, (_, m) in found.items()})
    keys = [tuple(key.split("/")) for key in explanations]
    pairs = pairs_to_test(references, keys) + confound_pairs({n: of for n, (of, _) in found.items()}, keys)
    table = mantel_table(matrices, pairs, n_perm=permutations, seed=seed, references=(*references, *found))
    write_csv(table, tables["mantel"], index=False, float_format="%.6g")
