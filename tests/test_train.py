import json

import numpy as np
import pandas as pd
import yaml
from conftest import train_settings
from safetensors.torch import load_file
from snakemake.utils import validate

from xaisim.index import digits_index, write_index
from xaisim.predict import predict_model
from xaisim.runtime import get_device, setup
from xaisim.train import settings, train_model


def test_settings_merge_schema_defaults_config_and_model_override(repo):
    config = yaml.safe_load((repo / "configs" / "tiny.yaml").read_text())
    config["train"] = {"epochs": 5, "augment": {"hflip": 0.0}}
    config["models"][0]["train"] = {"lr": 0.1, "augment": {"scale": [0.5, 1.0]}}
    validate(config, str(repo / "schemas" / "config.schema.yaml"))  # fills the defaults, as the workflow does
    s = settings(config["train"], config["models"][0]["train"])
    assert s["epochs"] == 5 and s["lr"] == 0.1 and s["optimizer"] == "adamw"
    assert s["augment"] == {"hflip": 0.0, "scale": [0.5, 1.0]}
    other = settings(config["train"], config["models"][1].get("train"))
    assert other["lr"] == 0.001 and other["augment"] == {"hflip": 0.0, "scale": [0.08, 1.0]}


def _train(tmp_path, name):
    setup(seed=0, threads=1)
    weights, metrics = tmp_path / name / "w.safetensors", tmp_path / name / "m.json"
    train_model(
        str(tmp_path / "index.csv"),
        {"arch": "resnet10t"},
        train_settings(epochs=2, batch_size=64, lr=0.005, augment={"scale": [0.8, 1.0], "hflip": 0.0}),
        image_size=16,
        seed=0,
        device=get_device("cpu"),
        amp=False,
        weights_path=str(weights),
        metrics_path=str(metrics),
    )
    return weights, json.loads(metrics.read_text())


def test_training_on_digits_learns_and_is_bitwise_reproducible(tmp_path):
    write_index(digits_index(tmp_path, image_size=16, val_fraction=0.2, seed=0), tmp_path / "index.csv")
    w1, m1 = _train(tmp_path, "a")
    w2, m2 = _train(tmp_path, "b")
    assert m1["val_accuracy_final"] > 0.5  # chance is 0.1
    assert len(m1["train_loss"]) == 2 and m1["train_loss"][1] < m1["train_loss"][0]
    a, b = load_file(str(w1)), load_file(str(w2))
    assert all((a[k] == b[k]).all() for k in a)
    out, cropped = tmp_path / "pred.csv", tmp_path / "crop.csv"
    predict_model(str(tmp_path / "index.csv"), {"arch": "resnet10t"}, str(w1), image_size=16, batch_size=50,
                  device=get_device("cpu"), amp=False, out_csv=str(out), out_crop_csv=str(cropped))
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["image_id", "label", "pred", "prob", "pred2", "prob2"]
    assert len(pred) == 360 and (pred["prob"] >= pred["prob2"]).all() and (pred["pred"] != pred["pred2"]).all()
    assert abs((pred["pred"] == pred["label"]).mean() - m1["val_accuracy_final"]) < 1e-9
    crop = pd.read_csv(cropped)  # timm's eval transform (resize, centre crop): the same images, other pixels
    assert (crop["image_id"] == pred["image_id"]).all() and not np.allclose(crop["prob"], pred["prob"])
    assert (crop["pred"] == crop["label"]).mean() > 0.3
