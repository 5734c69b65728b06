"""Every figure is a valid, non-blank PNG of sensible size with its labels; selection and rendering logic."""

import numpy as np
import pandas as pd
import pytest
from conftest import cluster_settings
from PIL import Image

from xaisim import plots
from xaisim.cluster import adjacency, cluster
from xaisim.plots import accuracy, clusters, distributions, explanations
from xaisim.plots.palette import FAMILY_COLOURS, family_colour, model_colours
from xaisim.selection import configured, select
from xaisim.statistics.agreement import agreement

MODELS = ["resnet", "convnext", "vit", "swin"]
FAMILIES = {"resnet": "cnn", "convnext": "cnn", "vit": "transformer", "swin": "transformer"}


def _distance():
    d = np.array([[0, 0.2, 0.8, 0.7], [0.2, 0, 0.75, 0.8], [0.8, 0.75, 0, 0.3], [0.7, 0.8, 0.3, 0]])
    return pd.DataFrame(d, index=MODELS, columns=MODELS)


def check_png(path, min_side=250):
    image = Image.open(path)
    assert image.format == "PNG" and min(image.size) >= min_side and max(image.size) < 6000
    grey = np.asarray(image.convert("L"))
    assert grey.std() > 10  # not a blank canvas
    return np.asarray(image.convert("RGB")).astype(int)


def has_colour(rgb, hex_colour, tol=40, min_pixels=20):
    target = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return (np.abs(rgb - target).sum(-1) < tol).sum() >= min_pixels


def test_cluster_figures_are_pngs_with_family_colours(tmp_path):
    d = _distance()
    settings = cluster_settings(graph="complete", null_draws=99)
    table, summary, z = cluster(d, settings)
    assert not summary["community_structure"]  # 4 models: a 2+2 split is a third of all relabellings
    clusters.dendrogram(z, MODELS, FAMILIES, 2, "t", tmp_path / "dendrogram.png", formats=["png", "svg"])
    clusters.linkage_comparison(d, FAMILIES, 2, "t", tmp_path / "linkages.png")
    clusters.community_graph(d, adjacency(d, settings), None, FAMILIES, "t", 42, tmp_path / "louvain.png")
    clusters.clustered_heatmap(d, z, FAMILIES, "t", tmp_path / "heatmap.png", noise_floor=0.25)
    clusters.embeddings(1 - d, d, FAMILIES, MODELS, "t", tmp_path / "embedding.png")
    for name in ("dendrogram", "linkages", "louvain", "heatmap", "embedding"):
        rgb = check_png(tmp_path / f"{name}.png")
        for fam in ("cnn", "transformer"):
            assert has_colour(rgb, FAMILY_COLOURS[fam]), (name, fam)
    svg = (tmp_path / "dendrogram.svg").read_text()
    assert all(m in svg for m in MODELS)  # labels present as text
    assert Image.open(tmp_path / "linkages.png").size[0] > 2 * Image.open(tmp_path / "dendrogram.png").size[0]


def test_distribution_and_accuracy_figures(tmp_path):
    rng = np.random.default_rng(0)
    sims = rng.uniform(0.3, 1, (20, 4, 4))
    sims[:5, 0, 1] = np.nan
    distributions.pair_histograms(sims, MODELS, FAMILIES, "t", tmp_path / "hist.png", formats=["png", "svg"])
    assert "n=15" in (tmp_path / "hist.svg").read_text() and "n=20" in (tmp_path / "hist.svg").read_text()
    check_png(tmp_path / "hist.png", 400)
    preds = {m: pd.DataFrame({"image_id": list("abcd"), "pred": rng.integers(0, 2, 4)}) for m in MODELS}
    distributions.matrix(agreement(preds), FAMILIES, "t", tmp_path / "agree.png", "fraction")
    check_png(tmp_path / "agree.png")
    table = pd.DataFrame({"model": MODELS, "val_accuracy": [0.9, 0.8, 0.95, 0.7],
                          "val_accuracy_centre_crop": [0.85, 0.82, 0.9, 0.6]})
    accuracy.accuracy_bars(table, FAMILIES, MODELS, tmp_path / "acc.png", formats=["png", "svg"])
    rgb = check_png(tmp_path / "acc.png")
    assert all(has_colour(rgb, c, min_pixels=200) for c in model_colours(MODELS).values())
    assert "95.0%" in (tmp_path / "acc.svg").read_text()
    plots.message("nothing to draw", "t", tmp_path / "msg.png")
    check_png(tmp_path / "msg.png", 150)


def test_model_colours_are_stable_and_distinct():
    colours = model_colours([f"m{i}" for i in range(14)])
    assert len(set(colours.values())) == 14
    assert model_colours(MODELS) == model_colours(MODELS)


def test_signed_rendering_is_green_for_positive_and_red_for_negative_weight():
    image = np.full((4, 4, 3), 0.5)
    w = np.zeros((4, 4))
    w[0, 0], w[1, 1] = 1.0, -1.0
    rgb = explanations.signed_rendering(image, w)
    assert rgb[0, 0, 1] > 0.9 and rgb[0, 0, 0] < 0.1 and rgb[0, 0, 2] < 0.1  # pure green
    assert rgb[1, 1, 0] > 0.9 and rgb[1, 1, 1] < 0.1  # pure red
    np.testing.assert_allclose(rgb[2, 2], 0.5)  # zero weight: the grey pixel, desaturated


def test_display_map_resizes_and_scales_by_max_abs():
    m = np.array([[0.0, -2.0], [1.0, 0.5]])
    out = explanations.display_map(m, (8, 8))
    assert out.shape == (8, 8) and np.abs(out).max() == pytest.approx(1.0) and out.min() == pytest.approx(-1.0)
    assert (explanations.display_map(np.zeros((2, 2)), (4, 4)) == 0).all()


def test_explanation_grid_has_a_row_per_image_and_method_and_a_column_per_model(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.random((16, 16, 3))
    row = [explanations.Cell(image, text="true: 3")] + [
        explanations.Cell(image, rng.random((4, 4)) * 2 - 1, rng.integers(0, 4, (16, 16)), "pred: 3", "#2ca02c"),
        explanations.Cell(text="not supported"),
    ]
    explanations.grid([row, row], ["ig", "gradcam"], ["image", "a", "b"], ["k", "r", "b"], "t", tmp_path / "g.png")
    explanations.grid([row], ["ig"], ["image", "a", "b"], ["k", "r", "b"], "t", tmp_path / "one.png")
    two, one = Image.open(tmp_path / "g.png").size, Image.open(tmp_path / "one.png").size
    assert two[1] > one[1] * 1.5 and abs(two[0] - one[0]) < 30
    check_png(tmp_path / "g.png")


def _predictions():
    """Six images of three classes; two models. Image 0-1 all correct, 2-3 some wrong, 4 a near tie, 5 confident."""
    subset = pd.DataFrame({"image_id": [f"i{i}" for i in range(6)], "label": [0, 1, 2, 0, 1, 2]})
    a = pd.DataFrame({"image_id": subset.image_id, "pred": [0, 1, 1, 0, 1, 2], "prob": [.9, .9, .9, .9, .5, .9],
                      "pred2": [1, 0, 2, 1, 2, 0], "prob2": [.1, .1, .1, .1, .45, .1]})
    b = a.assign(pred=[0, 1, 2, 2, 1, 2], pred2=[1, 0, 1, 0, 0, 1])
    return subset, {"a": a, "b": b}


def test_auto_selection_picks_each_category_once_spread_over_classes():
    subset, preds = _predictions()
    chosen = select(subset, preds, per_category=2, near_tie=0.2, seed=0)
    got = chosen.groupby("category")["image_id"].apply(list).to_dict()
    assert set(got["some-wrong"]) == {"i2", "i3"}
    assert got["near-tie"] == ["i4"]  # the only tie within 0.2 with the truth in the top two
    assert len(got["all-correct"]) == 2 and set(got["all-correct"]) <= {"i0", "i1", "i5"}
    assert chosen["image_id"].is_unique
    labels = subset.set_index("image_id").loc[got["all-correct"], "label"]
    assert labels.nunique() == 2  # two classes, not the first two ids of one class
    assert chosen.equals(select(subset, preds, per_category=2, near_tie=0.2, seed=0))


def test_configured_ids_must_be_explained():
    subset, _ = _predictions()
    assert list(configured(subset, ["i3", "i0"])["image_id"]) == ["i3", "i0"]
    with pytest.raises(ValueError, match=r"config figures.images: \['nope'\] not in the explained subset"):
        configured(subset, ["i0", "nope"])


def test_statistics_figures(tmp_path):
    from xaisim.plots import statistics

    rng = np.random.default_rng(1)
    d = _distance()
    cka = 1 - d + rng.normal(0, 0.05, d.shape)
    mantel = {("all", "cka"): pd.DataFrame({"method": ["pearson", "spearman"], "r": [-0.91, -0.8], "p": [0.04, 0.08]})}
    statistics.reference_scatter({"all": d, "matching": d * 0.9}, {"cka": cka, "error_consistency": cka * 0.5}, mantel,
                                 FAMILIES, "t", tmp_path / "scatter.png", formats=["png", "svg"],
                                 floors={"all": {"resnet": 0.123}})
    svg = (tmp_path / "scatter.svg").read_text()
    assert "r = -0.91" in svg and "p = 0.04" in svg and "no Mantel test" in svg and "noise floor resnet" in svg
    rgb = check_png(tmp_path / "scatter.png")
    assert all(has_colour(rgb, family_colour(f), min_pixels=30) for f in set(FAMILIES.values()))
    statistics.reference_matrices({"CKA": cka, "error consistency": cka * 0.5}, FAMILIES, "t", tmp_path / "refs.png")
    check_png(tmp_path / "refs.png")
    sums = pd.DataFrame({"n": np.repeat([4, 8, 16], 5), "repetition": np.tile(range(5), 3),
                         "sum_abs_diff": rng.random(15)})
    variance = pd.DataFrame({"n": np.repeat([4, 8, 16], 6), "variance": rng.random(18)})
    statistics.image_count_boxplots(sums, variance, "t", tmp_path / "count.png")
    check_png(tmp_path / "count.png")
    stab = pd.DataFrame({"bootstrap": range(10), "ari_dendrogram": rng.random(10), "ari_communities": rng.random(10)})
    statistics.stability_boxplots(stab, "t", tmp_path / "stab.png")
    check_png(tmp_path / "stab.png")
    sanity = pd.DataFrame([{"model": m, "layers": k, "of_layers": 4, "spearman": 1 - k / 4, "spearman_std": 0.1,
                            "cosine": 1 - k / 5, "cosine_std": 0.1} for m in MODELS for k in range(5)])
    statistics.sanity_curves(sanity, MODELS, "t", tmp_path / "sanity.png")
    rgb = check_png(tmp_path / "sanity.png")
    assert all(has_colour(rgb, c, min_pixels=30) for c in model_colours(MODELS).values())


def test_statistics_figures_are_drawn_from_the_stage_tables(tmp_path):
    """xaisim.plots.statistics.draw on tables the statistics functions made from four models, two replicates."""
    from xaisim.io import write_csv
    from xaisim.plots.statistics import StageTables, draw
    from xaisim.statistics.image_count import image_count_influence
    from xaisim.statistics.mantel import REFERENCES, mantel_table, pairs_to_test
    from xaisim.statistics.noise_floor import noise_floor_table
    from xaisim.statistics.stability import cluster_stability

    rng = np.random.default_rng(0)
    models = ["r-s0", "r-s1", "vit", "swin"]
    families = {"r-s0": "cnn", "r-s1": "cnn", "vit": "transformer", "swin": "transformer"}
    sims = np.clip(np.where(np.add.outer([0, 0, 1, 1], [0, 0, 1, 1]) % 2 == 0, 0.9, 0.4)
                   + rng.normal(0, 0.05, (12, 4, 4)), 0, 1)
    sims = (sims + sims.transpose(0, 2, 1)) / 2
    d = pd.DataFrame(np.hypot(1 - sims.mean(0), sims.std(0, ddof=1)), models, models)
    refs = {"agreement": (1 - d) * 10, "error_consistency": 1 - d + rng.normal(0, 0.1, d.shape), "cka": 1 - d}
    files = {}
    names = {"agreement": "agreement/same_class_counts", "error_consistency": "agreement/error_consistency"}
    for name, matrix in refs.items():
        files[names.get(name, name)] = str(tmp_path / f"{name}.csv")
        write_csv(matrix, files[names.get(name, name)])
    explanations = [("ig", "cosine", v) for v in ("all", "matching")]
    matrices = {**refs, **{f"ig/cosine/{v}/distance": d for v in ("all", "matching")},
                **{f"ig/cosine/{v}/mean": 1 - d for v in ("all", "matching")}}
    tables = {
        "mantel": mantel_table(matrices, pairs_to_test(REFERENCES, explanations), n_perm=99, seed=0),
        "noise_floor": noise_floor_table({e: d for e in explanations}, {"r-s0": "r", "r-s1": "r"}),
        "stability": cluster_stability(sims, models, n_boot=5, settings=cluster_settings(),
                                       seed=0).assign(method="ig", metric="cosine"),
        "sanity": pd.DataFrame([{"method": "ig", "model": m, "layers": k, "of_layers": 4, "spearman": 1 - k / 4,
                                 "spearman_std": 0.1, "cosine": 1 - k / 5, "cosine_std": 0.1} for m in models
                                for k in (1, 2, 4)]),
    }
    counts, cells = image_count_influence(sims, models, [4, 8], 5, 0)
    tables["image_count"], tables["image_count_variance"] = counts.assign(method="ig", metric="cosine"), cells.assign(method="ig", metric="cosine")
    for name, table in tables.items():
        files[name] = str(tmp_path / f"{name}.csv")
        write_csv(table, files[name], index=False)
    write_csv(d, tmp_path / "d.csv")
    distances = {f"ig/cosine/{v}": str(tmp_path / "d.csv") for v in ("all", "matching")}
    figures = {name: str(tmp_path / "out" / f"{name}.png")
               for name in ("references", "mantel/ig/cosine", "image_count/ig/cosine", "stability/ig/cosine", "sanity/ig")}
    draw(figures, StageTables(files, distances, ["all", "matching"], models, families, ["png", "svg"]))
    for path in figures.values():
        check_png(path)
    svg = (tmp_path / "out/mantel/ig/cosine.svg").read_text()
    assert "noise floor r" in svg and "pearson r = " in svg and "within cnn" in svg


def test_figure_jobs_are_seeded_so_jittered_plots_are_bitwise_equal(tmp_path):
    """seaborn's strip-plot jitter draws from numpy's global generator: job.start seeds it (torch-free jobs too)."""
    import logging
    import sys
    from types import SimpleNamespace

    from xaisim import job
    from xaisim.plots.statistics import stability_boxplots

    table = pd.DataFrame({"ari_dendrogram": np.linspace(0.2, 1, 20), "ari_communities": np.linspace(0.1, 0.9, 20)})
    smk = SimpleNamespace(log=[str(tmp_path / "job.log")], params={"seed": 3}, rule="statistics_figures")
    stderr = sys.stderr
    try:
        drawn = []
        for name in ("a.png", "b.png"):
            job.start(smk, torch=False)
            stability_boxplots(table, "t", tmp_path / name)
            drawn.append((tmp_path / name).read_bytes())
    finally:
        sys.stderr.close()
        sys.stderr = stderr
        logging.basicConfig(stream=stderr, force=True)
    assert drawn[0] == drawn[1]
