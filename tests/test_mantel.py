import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, spearmanr

from xaisim.statistics.mantel import mantel, mantel_table, pairs_to_test
from xaisim.statistics.permutation import model_orders


def _symmetric(rng, m):
    a = rng.random((m, m))
    a = a + a.T
    np.fill_diagonal(a, 0)
    return a


def _direct(a, b, method, perms, exact=False):
    """Loop over permutations: permute a's models, correlate the upper triangles."""
    iu = np.triu_indices(len(a), 1)
    corr = pearsonr if method == "pearson" else spearmanr
    r = corr(a[iu], b[iu])[0]
    null = [corr(a[np.ix_(p, p)][iu], b[iu])[0] for p in perms]
    reached = sum(abs(n) >= abs(r) - 1e-12 for n in null)
    return r, reached / len(perms) if exact else (1 + reached) / (1 + len(perms))


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_the_vectorised_core_equals_a_direct_loop(method):
    rng = np.random.default_rng(0)
    a, b = _symmetric(rng, 7), _symmetric(rng, 7)
    a[0, 1] = a[1, 0] = a[2, 3]  # a tie for the ranks
    r, p, floor, exact = mantel(a, b, method=method, n_perm=200, seed=5)
    perms = model_orders(7, 200, 5).relabellings  # 200 distinct orders of 5040, the identity left out
    want_r, want_p = _direct(a, b, method, perms)
    assert r == pytest.approx(want_r, abs=1e-12) and p == pytest.approx(want_p)
    assert not exact and floor == pytest.approx(1 / 201)


@pytest.mark.parametrize("m", [4, 5, 6])
def test_with_few_models_every_order_is_enumerated_and_p_is_exact(m):
    rng = np.random.default_rng(m)
    a, b = _symmetric(rng, m), _symmetric(rng, m)
    b = b + 3 * a  # correlated: p near its floor
    r, p, floor, exact = mantel(a, b, n_perm=999, seed=0)
    want_r, want_p = _direct(a, b, "pearson", list(itertools.permutations(range(m))), exact=True)
    assert exact and r == pytest.approx(want_r) and p == pytest.approx(want_p)
    assert p >= floor >= 1 / math.factorial(m)  # never below one in the number of distinct orders


def test_p_is_not_small_under_a_seeded_null_and_small_for_planted_structure():
    rng = np.random.default_rng(1)
    ps = [mantel(_symmetric(rng, 10), _symmetric(rng, 10), n_perm=199, seed=s)[1] for s in range(20)]
    assert np.median(ps) > 0.2 and min(ps) > 0.01
    a = _symmetric(rng, 10)
    noisy = a + 0.2 * _symmetric(rng, 10)
    for method in ("pearson", "spearman"):
        r, p, _, _ = mantel(a, noisy, method=method, n_perm=999, seed=0)
        assert r > 0.8 and p <= 0.002


def test_mantel_is_seeded_and_undefined_below_three_models(caplog):
    rng = np.random.default_rng(2)
    a, b = _symmetric(rng, 6), _symmetric(rng, 6)
    assert mantel(a, b, seed=3) == mantel(a, b, seed=3)
    r, p, _, _ = mantel(a[:2, :2], b[:2, :2], what="Mantel of x and y")
    assert math.isnan(r) and math.isnan(p) and "Mantel of x and y is undefined: 2 models" in caplog.text
    a[0, 1] = np.nan
    assert math.isnan(mantel(a, b)[0])


def test_pairs_to_test_and_the_tidy_table():
    explanations = [("gc", "cos", "all"), ("gc", "rbf", "all"), ("ig", "cos", "all"), ("ig", "rbf", "all")]
    pairs = pairs_to_test(["agreement", "cka"], explanations)
    assert ("agreement", "cka") in pairs and ("cka", "ig/rbf/all/mean") in pairs
    assert ("gc/cos/all/distance", "ig/cos/all/distance") in pairs  # two methods
    assert ("gc/cos/all/distance", "gc/rbf/all/distance") in pairs  # two metrics
    assert ("gc/cos/all/distance", "ig/rbf/all/distance") not in pairs
    assert len(pairs) == 1 + 2 * 4 * 2 + 4
    rng = np.random.default_rng(4)
    names = ["m1", "m2", "m3", "m4"]
    mats = {n: pd.DataFrame(_symmetric(rng, 4), names, names) for n in ("x", "y")}
    mats["y"] = mats["y"].loc[names[::-1], names[::-1]]  # another order: aligned by name
    table = mantel_table(mats, [("x", "y")], n_perm=50, seed=0)
    assert list(table["method"]) == ["pearson", "spearman"] and (table["n_models"] == 4).all()
    assert table.loc[0, "r"] == pytest.approx(mantel(mats["x"].to_numpy(), mats["y"].loc[names, names].to_numpy())[0])
    assert all(len(p) == 2 for p in itertools.chain(pairs))
    assert table["p_exact"].all() and (table["relabellings"] == 24).all()  # 4! orders, all enumerated


def test_q_values_are_benjamini_hochberg_within_each_family():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(7)
    names = [f"m{i}" for i in range(7)]
    mats = {n: pd.DataFrame(_symmetric(rng, 7), names, names) for n in ("agreement", "cka")}
    explanations = [("gc", k, "all") for k in ("cos", "rbf")]
    for method, metric, variant in explanations:
        for kind in ("mean", "distance"):
            mats[f"{method}/{metric}/{variant}/{kind}"] = pd.DataFrame(_symmetric(rng, 7), names, names)
    table = mantel_table(mats, pairs_to_test(["agreement", "cka"], explanations), n_perm=99, seed=0)
    assert set(table["family"]) == {"references/pearson", "references/spearman", "agreement/pearson",
                                    "agreement/spearman", "cka/pearson", "cka/spearman", "explanations/pearson",
                                    "explanations/spearman"}
    for _, rows in table.groupby("family"):
        np.testing.assert_allclose(rows["q"], multipletests(rows["p"], method="fdr_bh")[1])
    assert (table["q"] >= table["p"]).all() and not table["p_exact"].any()
