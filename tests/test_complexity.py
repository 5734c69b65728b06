"""Sparseness and entropy complexity per map against Quantus 0.6, known answers, degenerate maps counted,
and the statistic's tables and confound matrices from real explanation files."""

import numpy as np
import pandas as pd
import pytest

from xaisim.io import save_arrays
from xaisim.statistics.complexity import complexity, complexity_tables, entropy_nats, sparseness
from xaisim.statistics.mantel import confound_pairs, confounds


def _maps(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    maps = rng.normal(size=(6, 5, 7)) * rng.uniform(0.1, 3, size=(6, 1, 1))
    maps[1] = rng.exponential(size=(5, 7)) ** 4  # peaky
    return maps


def test_sparseness_and_complexity_equal_quantus():
    # test-only reference, installed with `pip install quantus==0.6.0 --no-deps` (its requirements would
    # pull opencv-python beside the venv's opencv-python-headless); skipped where it is absent
    quantus = pytest.importorskip("quantus")
    maps = _maps()
    a = np.abs(maps)[:, None]  # Quantus' evaluate_batch takes |a| (its abs step) with a channel axis
    want_gini = quantus.Sparseness(disable_warnings=True).evaluate_batch(x_batch=a, a_batch=a.copy())
    want_entropy = quantus.Complexity(disable_warnings=True).evaluate_batch(x_batch=a, a_batch=a.copy())
    assert sparseness(maps) == pytest.approx(want_gini, abs=1e-6)  # Quantus adds 1e-7 to every value
    assert entropy_nats(maps) == pytest.approx(want_entropy, abs=1e-9)


def test_known_answers_and_degenerate_maps():
    equal, one_hot, zero, bad = np.full((4, 4), 2.0), np.zeros((4, 4)), np.zeros((4, 4)), np.ones((4, 4))
    one_hot[1, 2] = -5.0
    bad[0, 0] = np.nan
    maps = np.stack([equal, one_hot, zero, bad])
    s, e, c = sparseness(maps), entropy_nats(maps), complexity(maps)
    assert s[0] == pytest.approx(0, abs=1e-12) and s[1] == pytest.approx(15 / 16)
    assert e[0] == pytest.approx(np.log(16)) and e[1] == pytest.approx(0)
    assert c[0] == pytest.approx(1) and c[1] == pytest.approx(0)
    assert np.isnan(s[2:]).all() and np.isnan(e[2:]).all() and np.isnan(c[2:]).all()


def test_normalised_complexity_does_not_follow_the_grid():
    # the same smooth map at 16 x 16 and, upsampled, at 64 x 64: the entropy grows by about log 16,
    # the normalised complexity stays close (what the model x model differences compare)
    small = np.random.default_rng(3).exponential(size=(1, 16, 16))
    large = np.kron(small, np.ones((4, 4)))
    assert entropy_nats(large)[0] - entropy_nats(small)[0] == pytest.approx(np.log(16), rel=1e-9)
    assert abs(complexity(large)[0] - complexity(small)[0]) < 0.05


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


def test_figures_and_the_trust_section_read_the_tables(tmp_path):
    from PIL import Image

    from xaisim.io import write_csv
    from xaisim.plots.statistics import StageTables, draw
    from xaisim.statistics.cka import cka_matrix
    from xaisim.statistics.mantel import mantel_table
    from xaisim.statistics.representation import debiased_cka_matrix, mutual_knn_matrix, procrustes_matrix
    from xaisim.summary import trust_section

    models = ["A", "B", "D", "E"]
    paths = [_file(tmp_path / f"{m}.st", m, "gc", _maps(k)) for k, m in enumerate(models)]
    files = {t: str(tmp_path / f"{t}.csv") for t in ("complexity", "complexity/per_map", "complexity/differences")}
    complexity_tables({"maps": paths}, {"complexity": files["complexity"], "per_map": files["complexity/per_map"],
                                        "differences": files["complexity/differences"]})
    rng = np.random.default_rng(9)
    feats = {m: rng.normal(size=(12, 5)) for m in models}
    for name, fn in {"cka": cka_matrix, "representation/debiased_cka": debiased_cka_matrix,
                     "representation/procrustes": procrustes_matrix,
                     "representation/mutual_knn": lambda f: mutual_knn_matrix(f, 3)}.items():
        files[name] = str(tmp_path / f"{name.replace('/', '_')}.csv")
        write_csv(fn(feats), files[name])
    figures = {name: str(tmp_path / f"{name}.png") for name in ("complexity", "representations")}
    draw(figures, StageTables(files, {}, ["all"], models, dict.fromkeys(models, "cnn")))
    for path in figures.values():
        assert min(Image.open(path).size) > 100
    found = confounds(pd.read_csv(files["complexity/differences"]))
    d = found["sparseness_difference/gc"][1]
    matrices = {**{n: m for n, (_, m) in found.items()}, "gc/cos/all/distance": d + 0.01 * rng.random(d.shape),
                "gc/cos/all/mean": 1 - d}
    pairs = confound_pairs({n: of for n, (of, _) in found.items()}, [("gc", "cos", "all")])
    mantel = mantel_table(matrices, pairs, n_perm=99, seed=0, references=list(found))
    page = "\n".join(trust_section({"complexity": pd.read_csv(files["complexity"]), "mantel": mantel}))
    assert "## Can these comparisons be trusted?" in page and "| gc |" in page
    assert "of 2 |" in page  # the distance tested against both complexity differences (Pearson)
    assert trust_section({"mantel": mantel}) == []
