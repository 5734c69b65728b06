"""Cross-model deletion (Jiang et al. 2022): the diagonal is the model's own drop, a map of the region
a model decides on beats random and an unrelated one does not, degenerate maps are NaN rows, and bad
settings are refused at the config check."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from test_faithfulness import Linear

from xaisim.config import ConfigError, check_schema, statistics_settings
from xaisim.io import save_arrays, stacked, unstacked
from xaisim.statistics.cross_deletion import cross_rows, matrices
from xaisim.statistics.faithfulness import probabilities, ranks

H = W = 8
FRACTIONS = [0.1, 0.25, 0.5]


@pytest.fixture(autouse=True)
def _unit_normalisation(monkeypatch):
    import xaisim.explain.baselines as baselines

    monkeypatch.setattr(baselines, "mean_std", lambda model: ((0.0,), (1.0,)))


def _file(path, maps, name, unsupported=""):
    meta = {"model": name, "method": "m", "image_ids": [f"i{k}" for k in range(len(maps))]}
    if unsupported:
        meta["unsupported"], maps = unsupported, np.zeros((0, 1, 1))
    save_arrays(path, {"maps": np.asarray(maps, np.float32), "targets": np.ones(len(maps), np.int64)}, meta)
    return str(path)


def _left_half(n=10, seed=0):
    """A model that decides on the left half only (positive pixels there, class 1) and its images."""
    g = torch.Generator().manual_seed(seed)
    w = torch.zeros(H, W, dtype=torch.float64)
    w[:, : W // 2] = 0.1  # logit about 3.5: not saturated
    x = torch.rand(n, 1, H, W, generator=g, dtype=torch.float64) * 0.2
    x[..., : W // 2] += 1.0
    return Linear(w), x, torch.ones(n, dtype=torch.long)


def _rows(model, x, targets, files, seed=0):
    return pd.DataFrame(cross_rows(model, x, targets, files, {}, fractions=FRACTIONS, baseline="zero",
                                   rng=np.random.default_rng(seed), batch=4))


def test_an_identical_explainer_gives_the_models_own_drop(tmp_path):
    model, x, targets = _left_half()
    contribution = (x[:, 0] * model.w).numpy()
    rows = _rows(model, x, targets, {"A": _file(tmp_path / "a.st", contribution, "A"),
                                     "B": _file(tmp_path / "b.st", contribution, "B")})
    a, b = (rows[rows["explainer"] == k].reset_index(drop=True) for k in "AB")
    # the tied contributions of the right half are broken in a different random order: compare the ranked part
    assert a["drop"].to_numpy() == pytest.approx(b["drop"].to_numpy(), abs=1e-9)
    rank = ranks(contribution, (H, W), np.random.default_rng(99))
    intact = probabilities(model, x, torch.zeros_like(x), targets, rank, [0.0], batch=3)
    direct = intact - probabilities(model, x, torch.zeros_like(x), targets, rank, FRACTIONS, batch=3)
    assert a["drop"].to_numpy() == pytest.approx(direct.mean(0), abs=1e-9)
    long = rows.assign(method="m", evaluated="B")
    long = pd.concat([long, long.assign(evaluated="A")])
    m = matrices(long, ["A", "B"])
    assert m["normalised"]["m"].loc["A", "B"] == pytest.approx(1.0) and m["distance"]["m"].loc["A", "B"] == pytest.approx(0)


def test_a_map_of_the_region_the_model_uses_beats_random_and_an_unrelated_map_does_not(tmp_path):
    model, x, targets = _left_half()
    left = np.zeros((len(x), H, W))
    left[..., : W // 2] = 1 + np.random.default_rng(1).random((len(x), H, W // 2))
    right = left[..., ::-1].copy()
    rows = _rows(model, x, targets, {"left": _file(tmp_path / "l.st", left, "left"),
                                     "right": _file(tmp_path / "r.st", right, "right")})
    excess = rows.assign(excess=rows["drop"] - rows["random_drop"]).groupby("explainer")["excess"].mean()
    assert excess["left"] > 0.1 and excess["right"] < 0
    assert (rows["counted"] == len(x)).all() and (rows["reason"] == "").all()


def test_all_zero_and_unsupported_maps_are_nan_rows_with_the_reason(tmp_path, caplog):
    model, x, targets = _left_half(4)
    zero = np.zeros((4, H, W))
    half = np.random.default_rng(2).random((4, H, W))
    half[:2] = 0
    rows = _rows(model, x, targets, {"zero": _file(tmp_path / "z.st", zero, "zero"),
                                     "half": _file(tmp_path / "h.st", half, "half"),
                                     "none": _file(tmp_path / "n.st", zero, "none", unsupported="no gradients")})
    by = rows.groupby("explainer")
    assert by["drop"].apply(lambda d: d.isna().all()).to_dict() == {"half": False, "none": True, "zero": True}
    assert set(rows.loc[rows["explainer"] == "zero", "reason"]) == {"all-zero map"}
    assert set(rows.loc[rows["explainer"] == "none", "reason"]) == {"unsupported: no gradients"}
    assert set(rows.loc[rows["explainer"] == "half", "counted"]) == {2}
    assert "2 of 4 images of explainer half left out" in caplog.text
    m = matrices(rows.assign(method="m", evaluated="half"), ["zero", "half", "none"])
    assert np.isnan(m["score"]["m"].loc["zero", "half"]) and np.isfinite(m["score"]["m"].loc["half", "half"])
    back = unstacked(stacked(m["distance"]))["m"]
    pd.testing.assert_frame_equal(back, m["distance"]["m"], check_names=False)


@pytest.fixture
def tiny(repo):
    return yaml.safe_load((repo / "configs" / "tiny.yaml").read_text())


@pytest.mark.parametrize("fractions, message", [([0.0, 0.1], r"fractions\[0\]: 0.0 is less than or equal to the minimum"),
                                                ([0.5, 1.5], r"fractions\[1\]: 1.5 is greater than the maximum"),
                                                ([], r"fractions: \[\] should be non-empty")])
def test_bad_fractions_are_refused_naming_the_setting(repo, tiny, fractions, message):
    config = copy.deepcopy(tiny)
    config["statistics"] = {"cross_deletion": {"fractions": fractions}}
    with pytest.raises(ConfigError, match=r"config statistics\.cross_deletion\." + message) as err:
        check_schema(config, repo / "schemas" / "config.schema.yaml")
    assert "\n" not in str(err.value)


def test_images_default_to_four_and_may_not_exceed_the_explained(repo, tiny):
    check_schema(tiny, repo / "schemas" / "config.schema.yaml")
    settings = statistics_settings(tiny)["cross_deletion"]
    assert settings["images"] == min(4, tiny["data"]["explain_images"])
    tiny["statistics"] = {"cross_deletion": {"images": 0}}
    tiny["statistics"]["cross_deletion"]["images"] = tiny["data"]["explain_images"] + 1
    with pytest.raises(ConfigError, match=r"statistics.cross_deletion.images: \d+ exceeds data.explain_images"):
        statistics_settings(tiny)


def test_the_matrices_enter_the_mantel_tests_figure_and_summary(tmp_path):
    """Written as the statistic writes them, the distances are Mantel references, the figure is drawn
    and the trust section names the pairs on the same evidence."""
    from PIL import Image

    from xaisim.io import write_csv
    from xaisim.plots.statistics import StageTables, draw
    from xaisim.statistics.mantel import mantel_tests
    from xaisim.summary import trust_section

    models = ["A", "B", "C", "D"]
    rng = np.random.default_rng(3)
    own = {"A": 0.4, "B": 0.3, "C": 0.2, "D": 0.005}  # D's own map is barely better than random: below the floor
    rows = [{"method": "gc", "explainer": a, "evaluated": b, "fraction": f, "drop": own[b] * (1 if a == b or {a, b} == {"A", "B"} else 0.2) + 0.1,
             "random_drop": 0.1, "images": 4, "counted": 4, "reason": ""} for a in models for b in models for f in FRACTIONS]
    m = matrices(pd.DataFrame(rows), models)
    assert np.isnan(m["normalised"]["gc"]["D"]).all() and m["normalised"]["gc"].loc["A", "B"] == pytest.approx(1)
    files = {}
    for kind in ("score", "normalised", "distance"):
        files[f"cross_deletion/{kind}"] = str(tmp_path / f"{kind}.csv")
        write_csv(stacked(m[kind]), files[f"cross_deletion/{kind}"], index=False)
    inputs = {"cross_deletion": files["cross_deletion/distance"]}
    for name in ("agreement", "error_consistency", "cka", "debiased_cka", "procrustes", "mutual_knn"):
        inputs[name] = str(tmp_path / f"{name}.csv")
        r = rng.random((4, 4))
        write_csv(pd.DataFrame(r + r.T, index=models, columns=models), inputs[name])
    inputs["means"], inputs["distances"] = [inputs["cka"]], [inputs["procrustes"]]
    mantel_tests(inputs, {"mantel": str(tmp_path / "mantel.csv")}, explanations=["gc/cos/all"], permutations=99, seed=0)
    mantel = pd.read_csv(tmp_path / "mantel.csv")
    mine = mantel[mantel["a"] == "cross_deletion/gc"]
    assert set(mine["b"]) >= {"gc/cos/all/distance", "gc/cos/all/mean"} and set(mine["family"]) == {"cross_deletion/gc/pearson", "cross_deletion/gc/spearman"}
    draw({"cross_deletion/gc": str(tmp_path / "cd.png")}, StageTables(files, {}, ["all"], models, dict.fromkeys(models, "cnn")))
    assert min(Image.open(tmp_path / "cd.png").size) > 100
    page = "\n".join(trust_section({"cross_deletion_normalised": pd.read_csv(files["cross_deletion/normalised"]), "mantel": mantel}))
    assert "| gc | 3 of 4 | A-B |" in page


def test_the_distance_is_clustered_without_the_models_it_could_not_count(tmp_path, caplog):
    """Two pairs that delete each other's evidence cut into two clusters; a model whose maps were not
    counted (unsupported: no drop) is left out of the clustering with a warning, not a NaN matrix."""
    from conftest import cluster_settings
    from test_plots import check_png

    from xaisim.io import write_csv
    from xaisim.plots.jobs import cluster_figures, evidence_distance

    models, group = ["A", "B", "C", "D", "E"], {"A": 0, "B": 0, "C": 1, "D": 1, "E": 2}
    own = {"A": 0.5, "B": 0.4, "C": 0.45, "D": 0.35, "E": 0.3}
    rows = [{"method": "gc", "explainer": a, "evaluated": b, "fraction": f,
             "drop": np.nan if a == "E" else own[b] * (1 if group[a] == group[b] else 0.1) + 0.1,
             "random_drop": 0.1, "images": 4, "counted": 0 if a == "E" else 4, "reason": "unsupported" if a == "E" else ""}
            for a in models for b in models for f in FRACTIONS]
    path = tmp_path / "distance.csv"
    write_csv(stacked(matrices(pd.DataFrame(rows), models)["distance"]), path, index=False)
    distance = evidence_distance(str(path), "gc")
    assert list(distance.index) == list(distance.columns) == ["A", "B", "C", "D"] and "E left out" in caplog.text
    assert distance.loc["A", "B"] == 0 and distance.loc["A", "C"] > 0.3
    out = {name: str(tmp_path / f"{name}.png") for name in ("dendrogram", "linkages", "louvain", "heatmap", "embedding")}
    out |= {"clusters": str(tmp_path / "clusters.csv"), "summary": str(tmp_path / "summary.json")}
    cluster_figures(distance, None, out, settings=cluster_settings(k=2), families=dict.fromkeys(models, "cnn"),
                    models=models, formats=["png"], title="gc / cross-model deletion")
    table = pd.read_csv(out["clusters"]).set_index("model")["cluster"]
    assert table["A"] == table["B"] != table["C"] == table["D"]
    for name in ("dendrogram", "linkages", "louvain", "heatmap", "embedding"):
        check_png(out[name])
