"""Representation references beside linear CKA, against independent formulas and known answers."""

import itertools

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group

from xaisim.config import ConfigError, statistics_settings
from xaisim.statistics.cka import linear_cka
from xaisim.statistics.representation import (
    debiased_cka,
    debiased_cka_matrix,
    mutual_knn,
    mutual_knn_matrix,
    procrustes_distance,
)


def _hsic_u_loops(k: np.ndarray, l: np.ndarray) -> float:
    """Song et al. 2012's U-statistic: the mean over ordered 4-tuples of distinct indices of
    k_ij l_ij + k_ij l_qr - 2 k_ij l_iq."""
    n = len(k)
    total, count = 0.0, 0
    for i, j, q, r in itertools.permutations(range(n), 4):
        total += k[i, j] * l[i, j] + k[i, j] * l[q, r] - 2 * k[i, j] * l[i, q]
        count += 1
    return total / count


def test_debiased_cka_equals_the_unbiased_hsic_u_statistic():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(9, 4)), rng.normal(size=(9, 3))
    y[:, 0] += x[:, 0]
    k, l = x @ x.T, y @ y.T  # the U-statistic needs no centring
    want = _hsic_u_loops(k, l) / np.sqrt(_hsic_u_loops(k, k) * _hsic_u_loops(l, l))
    assert debiased_cka(x, y) == pytest.approx(want, rel=1e-9)


def test_debiased_cka_is_near_zero_for_unrelated_features_where_linear_cka_is_not():
    rng = np.random.default_rng(1)
    pairs = [(rng.normal(size=(20, 50)), rng.normal(size=(20, 50))) for _ in range(20)]
    assert np.mean([linear_cka(x, y) for x, y in pairs]) > 0.5
    assert abs(np.mean([debiased_cka(x, y) for x, y in pairs])) < 0.05
    x = pairs[0][0]
    assert debiased_cka(x, x @ ortho_group.rvs(50, random_state=2)) == pytest.approx(1.0)


def test_debiased_cka_is_nan_for_constant_features_and_too_few_images(caplog):
    rng = np.random.default_rng(3)
    m = debiased_cka_matrix({"a": rng.normal(size=(8, 3)), "flat": np.ones((8, 2))})
    assert m["flat"].isna().all() and m.loc["a", "a"] == pytest.approx(1.0) and "constant" in caplog.text
    assert np.isnan(debiased_cka(rng.normal(size=(3, 2)), rng.normal(size=(3, 2)))) and "at least 4" in caplog.text


def _procrustes_scipy(x: np.ndarray, y: np.ndarray) -> float:
    """Angle from scipy's optimal rotation: for unit-norm X, Y, ||X R - Y||^2 = 2 - 2 cos(theta)."""
    x, y = x - x.mean(0), y - y.mean(0)
    x, y = x / np.linalg.norm(x), y / np.linalg.norm(y)
    width = max(x.shape[1], y.shape[1])
    x, y = (np.pad(a, ((0, 0), (0, width - a.shape[1]))) for a in (x, y))
    r, _ = orthogonal_procrustes(x, y)
    return float(np.arccos(1 - np.linalg.norm(x @ r - y) ** 2 / 2))


@pytest.mark.parametrize("shape", [((12, 5), (12, 8)), ((6, 30), (6, 20))])
def test_procrustes_distance_equals_scipys_orthogonal_procrustes(shape):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=shape[0]), rng.normal(size=shape[1])
    y[:, :3] += 2 * x[:, :3]
    assert procrustes_distance(x, y) == pytest.approx(_procrustes_scipy(x, y), abs=1e-7)
    q = ortho_group.rvs(x.shape[1], random_state=5)
    assert procrustes_distance(x, 3 * x @ q + 1) == pytest.approx(0, abs=1e-6)
    assert 0 < procrustes_distance(x, y) <= np.pi / 2


def _mutual_knn_plain(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Huh et al. 2024: L2-normalise, inner products with the diagonal excluded, top-k, shared fraction."""
    def knn(f):
        f = f / np.linalg.norm(f, axis=1, keepdims=True)
        s = f @ f.T
        np.fill_diagonal(s, -np.inf)
        return [set(np.argsort(-row)[:k]) for row in s]

    return float(np.mean([len(p & q) / k for p, q in zip(knn(a), knn(b))]))


def test_mutual_knn_equals_the_platonic_formula_and_known_answers():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(40, 6))
    y = x + 0.7 * rng.normal(size=(40, 6))
    assert mutual_knn(x, y, 5) == pytest.approx(_mutual_knn_plain(x, y, 5))
    assert mutual_knn(x, x, 5) == 1.0
    assert mutual_knn(x, 2 * x @ ortho_group.rvs(6, random_state=7), 5) == 1.0
    noise = [mutual_knn(rng.normal(size=(60, 8)), rng.normal(size=(60, 8)), 6) for _ in range(10)]
    assert np.mean(noise) == pytest.approx(6 / 59, abs=0.03)


def test_mutual_knn_is_nan_for_zero_or_same_direction_features(caplog):
    rng = np.random.default_rng(8)
    zero = rng.normal(size=(10, 3))
    zero[2] = 0
    m = mutual_knn_matrix({"a": rng.normal(size=(10, 3)), "zero": zero, "same": np.ones((10, 3))}, 3)
    assert m["zero"].isna().all() and m["same"].isna().all() and m.loc["a", "a"] == 1.0
    assert "all-zero feature" in caplog.text and "same feature direction" in caplog.text


def test_neighbours_default_and_range_are_checked_when_the_dag_is_built():
    config = {"data": {"explain_images": 8}, "statistics": {}}
    assert statistics_settings(config)["representation"]["neighbours"] == 7
    config["data"]["explain_images"] = 64
    assert statistics_settings(config)["representation"]["neighbours"] == 10
    config["statistics"] = {"representation": {"neighbours": 64}}
    with pytest.raises(ConfigError, match=r"^config statistics.representation.neighbours: 64 exceeds"):
        statistics_settings(config)
