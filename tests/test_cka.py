import numpy as np
import pytest
from scipy.stats import ortho_group

from xaisim.statistics.cka import cka_matrix, linear_cka


def _hsic(k: np.ndarray, l: np.ndarray) -> float:
    n = len(k)
    h = np.eye(n) - np.ones((n, n)) / n
    return np.trace(k @ h @ l @ h) / (n - 1) ** 2


def test_linear_cka_equals_the_hsic_formula():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 7)), rng.normal(size=(20, 5))
    y[:, 0] += 2 * x[:, 0]
    k, l = x @ x.T, y @ y.T
    direct = _hsic(k, l) / np.sqrt(_hsic(k, k) * _hsic(l, l))
    assert linear_cka(x, y) == pytest.approx(direct, rel=1e-10)
    assert 0 < direct < 1


def test_linear_cka_is_invariant_to_orthogonal_transforms_and_isotropic_scaling():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(15, 6)), rng.normal(size=(15, 4))
    q = ortho_group.rvs(6, random_state=2)
    assert linear_cka(x @ q * 3.5, y) == pytest.approx(linear_cka(x, y), rel=1e-10)
    assert linear_cka(x, x @ q * 0.1 + 4.0) == pytest.approx(1.0, rel=1e-10)
    # not invariant to anisotropic scaling
    assert linear_cka(x * np.arange(1, 7), y) != pytest.approx(linear_cka(x, y), rel=1e-3)


def test_cka_matrix_is_symmetric_with_unit_diagonal_and_nan_for_constant_features(caplog):
    rng = np.random.default_rng(3)
    feats = {"a": rng.normal(size=(10, 3)), "b": rng.normal(size=(10, 8)), "flat": np.ones((10, 2))}
    m = cka_matrix(feats)
    assert m.loc["a", "b"] == pytest.approx(linear_cka(feats["a"], feats["b"]))
    assert m.loc["a", "a"] == pytest.approx(1) and m.loc["b", "a"] == m.loc["a", "b"]
    assert m["flat"].isna().all() and "constant" in caplog.text
