import numpy as np
import pandas as pd
from PIL import Image

from xaisim import plots
from xaisim.cluster import cluster_table
from xaisim.predict import agreement


def _distance():
    names = ["a", "b", "c"]
    d = np.array([[0, 0.2, 0.8], [0.2, 0, 0.7], [0.8, 0.7, 0]])
    return pd.DataFrame(d, index=names, columns=names)


def test_cluster_figures_are_written_as_pngs(tmp_path):
    d = _distance()
    table, z = cluster_table(d, "average", 1.0, 42)
    plots.dendrogram(z, list(d.index), "t", tmp_path / "dendrogram.png")
    plots.community_graph(d, dict(zip(table.model, table.community)), "t", 42, tmp_path / "louvain.png")
    plots.heatmap(d, ["c", "a", "b"], "t", tmp_path / "heatmap.png")
    for name in ("dendrogram", "louvain", "heatmap"):
        image = Image.open(tmp_path / f"{name}.png")
        assert image.format == "PNG" and min(image.size) > 200
        assert np.asarray(image.convert("L")).std() > 10  # not a blank canvas
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dendrogram.png", "heatmap.png", "louvain.png"]


def test_examples_grid_has_a_row_per_image_and_a_column_per_model(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.random((16, 16, 3)) for _ in range(3)]
    maps = {"m1": rng.random((3, 16, 16)), "m2": rng.random((3, 16, 16)) * 2 - 1}
    plots.examples(images, maps, ["x", "y", "z"], "t", tmp_path / "two.png")
    plots.examples(images, {"m1": maps["m1"]}, ["x", "y", "z"], "t", tmp_path / "one.png")
    plots.examples(images[:1], {"m1": maps["m1"][:1]}, ["x"], "t", tmp_path / "small.png")
    two, one, small = (Image.open(tmp_path / f"{n}.png").size for n in ("two", "one", "small"))
    assert two[0] > one[0] * 1.2 and abs(two[1] - one[1]) < 20  # a column per model
    assert one[1] > small[1] * 2  # a row per image


def test_agreement_counts_same_predictions():
    preds = {
        "a": pd.DataFrame({"image_id": ["1", "2", "3", "4"], "pred": [0, 1, 2, 3]}),
        "b": pd.DataFrame({"image_id": ["4", "3", "2", "1"], "pred": [3, 2, 0, 0]}),
    }
    same = agreement(preds)
    assert same.loc["a", "a"] == 1 and same.loc["a", "b"] == same.loc["b", "a"] == 0.75
