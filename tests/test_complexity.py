"""Sparseness and entropy complexity per map against Quantus 0.6, known answers, degenerate maps counted,
and the statistic's tables and confound matrices from real explanation files."""

import numpy as np
import pandas as pd
import pytest

from xaisim.io import save_arrays
from xaisim.statistics.complexity import complexity, complexity_tables, sparseness
from xaisim.statistics.mantel import confound_pairs, confounds


def _maps(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    maps = rng.normal(size=(6, 5, 7)) * rng.uniform(0.1, 3, size=(6, 1, 1))
    maps[1] = rng.exponential(size=(5, 7)) ** 4  # peaky
    return maps


def test_sparseness_and_complexity_equal_quantus():
    quantus = pytest.importorskip("quantus")  # test-only dependency (pip install quantus==0.6.0 --no-deps)
    maps = _maps()
    a = np.abs(maps)[:, None]  # Quantus' evaluate_batch takes |a| (its abs step) with a channel axis
    want_gini = quantus.Sparseness(disable_warnings=True).evaluate_batch(x_batch=a, a_batch=a.copy())
    want_entropy = quantus.Complexity(disable_warnings=True).evaluate_batch(x_batch=a, a_batch=a.copy())
    assert sparseness(maps) == pytest.approx(want_gini, abs=1e-6)  # Quantus adds 1e-7 to every value
    assert complexity(maps) == pytest.approx(want_entropy, abs=1e-9)


def test_known_answers_and_degenerate_maps():
    equal, one_hot, zero, bad = np.full((4, 4), 2.0), np.zeros((4, 4)), np.zeros((4, 4)), np.ones((4, 4))
    one_hot[1, 2] = -5.0
    bad[0, 0] = np.nan
    maps = np.stack([equal, one_hot, zero, bad])
    s, c = sparseness(maps), complexity(maps)
    assert s[0] == pytest.approx(0, abs=1e-12) and s[1] == pytest.approx(15 / 16)
    assert c[0] == pytest.approx(np.log(16)) and c[1] == pytest.approx(0)
    assert np.isnan(s[2:]).all() and np.isnan(c[2:]).all()


def _file(path, model, method, maps, unsupported=""):
    meta = {"model": model, "method": method, "image_ids": [f"i{k}" for k in range(len(maps))]}
    if unsupported:
        meta["unsupported"], maps = unsupported, np.zeros((0, 1, 1), np.float32)
    save_arrays(path, {"maps": maps.astype(np.float32), "targets": np.zeros(6, np.int64)}, meta)
    return str(path)


def test_the_statistic_counts_degenerate_maps_and_pairs_differences_per_image(tmp_path, caplog):
    a, b = _maps(1), _maps(2)
    b[3] = 0  # an all-zero map: left out of b's mean and of the pairs on image i3
    paths = [_file(tmp_path / "a.st", "A", "gc", a), _file(tmp_path / "b.st", "B", "gc", b),
             _file(tmp_path / "c.st", "C", "gc", a, unsupported="no layer"),
             _file(tmp_path / "d.st", "D", "gc", 3 * a[:, ::-1])]
    tables = {t: str(tmp_path / f"{t}.csv") for t in ("complexity", "per_map", "differences")}
    complexity_tables({"maps": paths}, tables)
    per_model = pd.read_csv(tables["complexity"]).set_index("model")
    assert per_model.loc["B", "counted"] == 5 and per_model.loc["B", "zero_maps"] == 1
    assert per_model.loc["B", "sparseness_mean"] == pytest.approx(np.delete(sparseness(b), 3).mean(), rel=1e-5)
    assert per_model.loc["C", "counted"] == 0 and per_model.loc["C", "unsupported"] == "no layer"
    assert np.isnan(per_model.loc["C", "sparseness_mean"]) and per_model.loc["A", "pixels"] == 35
    assert "no layer" in caplog.text and "1 all-zero" in caplog.text
    diffs = pd.read_csv(tables["differences"])
    ab = diffs[(diffs["a"] == "A") & (diffs["b"] == "B") & (diffs["measure"] == "sparseness")].iloc[0]
    want = np.abs(np.delete(sparseness(a) - sparseness(b), 3)).mean()
    assert ab["difference"] == pytest.approx(want, rel=1e-6) and ab["images"] == 5
    # scaling and flipping a map change neither measure: A and D do not differ
    ad = diffs[(diffs["a"] == "A") & (diffs["b"] == "D")]
    assert ad["difference"].to_numpy() == pytest.approx(0, abs=1e-6)
    assert "C" not in set(diffs["a"]) | set(diffs["b"])
    found = confounds(diffs)
    method, m = found["sparseness_difference/gc"]
    assert method == "gc" and list(m.index) == ["A", "B", "D"] and m.loc["B", "A"] == m.loc["A", "B"] == ab["difference"]
    pairs = confound_pairs({n: of for n, (of, _) in found.items()}, [("gc", "cos", "all"), ("ig", "cos", "all")])
    assert ("sparseness_difference/gc", "gc/cos/all/distance") in pairs and not any("ig/" in b for _, b in pairs)
