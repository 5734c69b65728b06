"""Exact and sampled permutation nulls, their floors, and Benjamini–Hochberg q-values."""

import itertools
import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from xaisim.statistics.permutation import label_assignments, model_orders, q_values


def test_model_orders_enumerate_every_order_when_the_budget_allows():
    null = model_orders(5, budget=999, seed=0)
    assert null.exact and null.total == 120
    assert sorted(map(tuple, null.relabellings)) == list(itertools.permutations(range(5)))


def test_sampled_orders_are_distinct_and_never_the_observed_one():
    null = model_orders(7, budget=999, seed=1)
    rows = set(map(tuple, null.relabellings))
    assert not null.exact and null.total == 5040 and len(rows) == 999 and tuple(range(7)) not in rows
    again = model_orders(7, budget=999, seed=1)
    np.testing.assert_array_equal(null.relabellings, again.relabellings)


@pytest.mark.parametrize("labels", [list("aaabbb"), list("aabbbc"), list("aaaabbbb")])
def test_label_assignments_are_the_distinct_arrangements(labels):
    null = label_assignments(labels, budget=999, seed=0)
    codes = np.unique(labels, return_inverse=True)[1]
    want = sorted(set(itertools.permutations(codes.tolist())))
    assert null.exact and null.total == len(want) == len(null.relabellings)
    assert sorted(map(tuple, null.relabellings.tolist())) == want


def test_exact_p_is_the_share_reaching_the_observed_and_never_below_its_floor():
    rng = np.random.default_rng(0)
    d = rng.random((6, 6))
    d = d + d.T
    labels = list("aaabbb")
    i, j = np.triu_indices(6, 1)

    def stat(lab):
        lab = np.asarray(lab)
        same = lab[i] == lab[j]
        return d[i, j][~same].mean() - d[i, j][same].mean()

    null = label_assignments(labels, budget=999, seed=0)
    values = np.array([stat(r) for r in null.relabellings])
    observed = stat(np.unique(labels, return_inverse=True)[1])
    p, floor = null.p_value(observed, values)
    direct = [stat(perm) for perm in set(itertools.permutations(labels))]  # every distinct labelling
    assert p == pytest.approx(np.mean(np.array(direct) >= observed - 1e-12))
    assert floor == pytest.approx(2 / 20)  # swapping the two families gives the same statistic
    assert p >= floor >= 1 / null.total
    assert label_assignments(list("aaaabbbb"), 999, 0).p_value(0.0, np.arange(70.0))[1] == pytest.approx(1 / 70)


def test_sampled_p_counts_the_observed_and_floors_at_one_over_draws_plus_one():
    null = model_orders(8, budget=99, seed=0)
    p, floor = null.p_value(5.0, np.zeros(99))
    assert (p, floor) == (pytest.approx(1 / 100), pytest.approx(1 / 100)) and math.factorial(8) == null.total


def test_q_values_equal_statsmodels_and_leave_nan_out():
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.2, 0.001])
    q = q_values(p)
    want = multipletests(p[~np.isnan(p)], method="fdr_bh")[1]
    np.testing.assert_allclose(q[~np.isnan(p)], want)
    assert np.isnan(q[2])
