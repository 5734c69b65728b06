"""Figure jobs on study shapes without the thing they draw: a figure that says why, not a crash."""

import logging

import numpy as np
import pandas as pd
from conftest import _schema_filled

from xaisim.index import digits_index, write_index
from xaisim.plots.jobs import explanation_grids
from xaisim.selection import CATEGORIES
from xaisim.subset import explain_subset


def test_a_study_of_example_based_methods_only_gets_grids_that_say_there_are_no_maps(tmp_path, caplog):
    index = digits_index(tmp_path, image_size=16, val_fraction=0.2, seed=0)
    write_index(index, tmp_path / "index.csv")
    subset = explain_subset(index, 10, seed=0)
    subset.to_csv(tmp_path / "explain.csv", index=False)
    rng = np.random.default_rng(0)
    predictions = []
    for model in ("a", "b"):
        prob = rng.uniform(0.3, 1, len(subset))
        pd.DataFrame({"image_id": subset["image_id"], "label": subset["label"], "pred": subset["label"],
                      "prob": prob, "pred2": (subset["label"] + 1) % 10, "prob2": (1 - prob) / 2}
                     ).to_csv(tmp_path / f"{model}.csv", index=False)
        predictions.append(str(tmp_path / f"{model}.csv"))
    out = {"selection": str(tmp_path / "selection.csv"),
           "grids": {c: str(tmp_path / f"grid-{c}.png") for c in CATEGORIES},
           "deeper": {c: str(tmp_path / f"deeper-{c}.png") for c in CATEGORIES}}
    with caplog.at_level(logging.WARNING):
        explanation_grids(str(tmp_path / "index.csv"), str(tmp_path / "explain.csv"), predictions, {}, out,
                          models=["a", "b"], methods=[], families={"a": "cnn", "b": "cnn"},
                          figures=_schema_filled()["figures"], normalise={}, seed=0)
    assert "no method of this study gives maps" in caplog.text
    assert all((tmp_path / f"{kind}-{c}.png").stat().st_size > 0 for kind in ("grid", "deeper") for c in CATEGORIES)
    assert len(pd.read_csv(out["selection"])) > 0


def test_an_unknown_figure_image_fails_before_any_model_is_trained(tmp_path):
    """figures.images is checked against the explained subset as soon as it exists (rule
    figure_images, run first), not by the explanation grids after every explanation."""
    import yaml
    from test_workflow import REPO, snakemake

    config = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    config["figures"] = {"images": ["nope"]}
    path = tmp_path / "images.yaml"
    path.write_text(yaml.safe_dump(config))
    done = snakemake(tmp_path / "work", "--cores", "1", configfile=path, check=False)
    log = tmp_path / "work/results/logs/figure_images.log"
    assert done.returncode != 0 and "config figures.images: ['nope'] not in the explained subset" in log.read_text()
    assert not list((tmp_path / "work/results").glob("models/*/weights.safetensors"))
