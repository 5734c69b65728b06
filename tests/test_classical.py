"""scikit-learn models (trained on pixels, stored with skops, predicted like timm models) and
``train: {epochs: 0}`` (a pretrained model kept with its own head)."""

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import train_settings
from safetensors import safe_open
from safetensors.torch import save_file

from xaisim import classical, models
from xaisim.config import ConfigError, check, check_schema
from xaisim.index import digits_index, read_index, write_index
from xaisim.predict import predict_model
from xaisim.runtime import get_device, setup
from xaisim.train import train_model

CPU = get_device("cpu")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_index(digits_index(root, image_size=8, val_fraction=0.2, seed=0), root / "index.csv")
    return root


def _train(root, spec, name, epochs=1):
    setup(seed=0, threads=1)
    out = root / name
    metrics = train_model(
        str(root / "index.csv"), spec, train_settings(epochs=epochs), image_size=8, seed=0, device=CPU,
        amp=False, weights_path=str(out / "w.safetensors"), metrics_path=str(out / "m.json"),
    )
    return out / "w.safetensors", metrics


@pytest.mark.parametrize(
    "name, kwargs, min_accuracy",
    [("svc", {}, 0.9), ("random_forest", {"n_estimators": 20}, 0.8)],
)
def test_sklearn_model_trains_stores_without_pickle_and_predicts_like_timm(digits, name, kwargs, min_accuracy):
    spec = {"sklearn": name, "kwargs": kwargs}
    weights, metrics = _train(digits, spec, name)
    assert metrics["val_accuracy_final"] > min_accuracy and metrics["features"] == 3 * 8 * 8
    with safe_open(str(weights), framework="numpy") as f:
        assert json.loads(f.metadata()["xaisim"])["format"] == "skops"
        with zipfile.ZipFile(__import__("io").BytesIO(f.get_tensor("skops").tobytes())) as z:
            assert "schema.json" in z.namelist() and not any(n.endswith((".pkl", ".pickle")) for n in z.namelist())
    model = models.load_trained(spec, weights, num_classes=10)
    assert not models.supports_gradients(model) and models.supports_gradients(torch.nn.Linear(2, 2))
    est = model.estimator
    x = torch.randn(5, 3, 8, 8)
    with torch.no_grad():
        scores = model(x)
    flat = x.flatten(1).double().numpy()
    expected = est.decision_function(flat) if name == "svc" else np.log(np.maximum(est.predict_proba(flat), 1e-12))
    assert scores.shape == (5, 10) and np.allclose(scores.numpy(), expected, atol=1e-5)
    # the same predictions CSV as a timm model; its accuracy is the one training reported
    out = digits / name / "pred.csv"
    predict_model(str(digits / "index.csv"), spec, str(weights), image_size=8, batch_size=100, device=CPU,
                  amp=False, out_csv=str(out))
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["image_id", "label", "pred", "prob", "pred2", "prob2"]
    assert (pred["pred"] == pred["label"]).mean() == pytest.approx(metrics["val_accuracy_final"])


@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_every_estimator_round_trips_through_skops_bytes_and_scores(name):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 3 * 4 * 4)), np.arange(60) % 3
    est = classical.estimator(name, {"max_iter": 50}, seed=0).fit(x, y)
    data = classical.to_bytes(est)
    assert data == classical.to_bytes(classical.estimator(name, {"max_iter": 50}, seed=0).fit(x, y))
    back = classical.SklearnClassifier(classical.from_bytes(data), 3)
    scores = back(torch.from_numpy(x).view(60, 3, 4, 4))
    assert np.allclose(scores.exp().numpy(), est.predict_proba(x), atol=1e-6)


def test_sklearn_training_is_seeded_and_reproducible(digits):
    spec = {"sklearn": "random_forest", "kwargs": {"n_estimators": 5}}
    a, _ = _train(digits, spec, "rf_a")
    b, _ = _train(digits, spec, "rf_b")
    assert a.read_bytes() == b.read_bytes()
    assert models.load_trained(spec, a, 10).estimator.random_state == 0


def test_untrusted_types_and_other_estimators_are_refused():
    from fractions import Fraction

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = np.random.default_rng(0).random((20, 3)), np.arange(20) % 2
    est = classical.estimator("logreg").fit(x, y)
    est.extra_ = Fraction(1, 3)
    with pytest.raises(ValueError, match=r"untrusted types \['fractions.Fraction'\]"):
        classical.from_bytes(classical.to_bytes(est))
    with pytest.raises(ValueError, match="refusing a stored Pipeline"):
        classical.from_bytes(classical.to_bytes(make_pipeline(StandardScaler(), SVC()).fit(x, y)))


def test_model_trained_on_other_classes_is_refused():
    from sklearn.linear_model import LogisticRegression

    est = LogisticRegression().fit(np.random.rand(20, 3), np.arange(20) % 2)
    with pytest.raises(ValueError, match=r"fitted on classes \[0, 1\], not 0..2"):
        classical.SklearnClassifier(est, 3)


def test_pretrained_model_with_epochs_0_keeps_its_head_and_classes(tmp_path, digits):
    torch.manual_seed(0)
    source = models.create({"arch": "resnet10t"}, num_classes=1000).eval()
    path = tmp_path / "pretrained.safetensors"
    save_file(source.state_dict(), str(path))
    spec = {"arch": "resnet10t", "pretrained_file": str(path)}
    weights, metrics = _train(digits, spec, "as_is", epochs=0)
    assert metrics["num_classes"] == 1000 and metrics["val_accuracy_final"] is None and metrics["head"] == "pretrained"
    assert json.loads((digits / "as_is" / "m.json").read_text())["epochs"] == 0
    model = models.load_trained(spec, weights, num_classes=10)
    assert models.pretrained_head(weights)
    x = torch.randn(2, 3, 8, 8)
    assert model.num_classes == 1000 and torch.equal(model(x), source(x))
    out = digits / "as_is" / "pred.csv"
    predict_model(str(digits / "index.csv"), spec, str(weights), image_size=8, batch_size=100, device=CPU,
                  amp=False, out_csv=str(out))
    pred = pd.read_csv(out, dtype={"image_id": str})
    index = read_index(digits / "index.csv")
    assert pred["label"].tolist() == index[index["split"] == "val"]["label"].tolist()  # dataset labels
    assert pred["pred"].max() >= 10  # ImageNet-sized class indices from the model's own head
    first = models.transform(models.data_config(model, spec, 8), train=False)(
        __import__("PIL.Image", fromlist=["Image"]).open(index[index["split"] == "val"]["path"].iloc[0]).convert("RGB"))
    assert pred["pred"].iloc[0] == source(first[None]).argmax().item()


@pytest.fixture
def tiny(repo):
    return yaml.safe_load((repo / "configs" / "tiny.yaml").read_text())


def test_sklearn_and_epochs_0_entries_are_valid(tiny, repo, tmp_path):
    weights = tmp_path / "w.safetensors"
    save_file({"x": torch.zeros(1)}, str(weights))
    tiny["models"] += [
        {"name": "SVC", "sklearn": "svc", "kwargs": {"C": 10}},
        {"name": "asis", "arch": "resnet10t", "pretrained_file": str(weights), "train": {"epochs": 0}},
    ]
    check_schema(tiny, repo / "schemas" / "config.schema.yaml")
    check(tiny)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"sklearn": "svm"}, r"models\[2\].sklearn: 'svm' is not one of \['svc'"),
        ({"sklearn": "svc", "arch": "resnet10t"}, r"models\[2\]: .* is valid under each of"),
        ({}, r"models\[2\]: .* is not valid under any of"),
    ],
)
def test_bad_sklearn_entries_fail_the_schema_in_one_line(tiny, repo, entry, message):
    tiny["models"].append({"name": "m", **entry})
    with pytest.raises(ConfigError, match=message) as err:
        check_schema(tiny, repo / "schemas" / "config.schema.yaml")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"sklearn": "svc", "kwargs": {"C": -1}}, r"models\[2\].kwargs: SVC: The 'C' parameter of SVC must be"),
        ({"sklearn": "logreg", "kwargs": {"depth": 3}}, r"models\[2\].kwargs: unknown argument\(s\) \['depth'\]"),
        ({"sklearn": "mlp", "pretrained": True}, r"models\[2\]: a scikit-learn model takes no pretrained"),
        ({"arch": "resnet10t", "train": {"epochs": 0}}, r"models\[2\].train.epochs: 0 explains a pretrained model"),
    ],
)
def test_bad_model_entries_fail_at_dag_build_in_one_line(tiny, entry, message):
    tiny["models"].append({"name": "m", **entry})
    with pytest.raises(ConfigError, match=message) as err:
        check(tiny)
    assert "\n" not in str(err.value)


def test_epochs_0_refuses_label_targets(tiny, tmp_path):
    weights = tmp_path / "w.safetensors"
    save_file({"x": torch.zeros(1)}, str(weights))
    tiny["models"].append({"name": "m", "arch": "resnet10t", "pretrained_file": str(weights), "train": {"epochs": 0}})
    tiny["explain"] = {"target": "label"}
    with pytest.raises(ConfigError, match=r"models\[2\].train.epochs: 0 keeps the pretrained head's own classes"):
        check(tiny)


def test_gradient_methods_report_unsupported_and_kernelshap_explains_an_sklearn_model(digits):
    from xaisim.contract import Unsupported
    from xaisim.data import loader
    from xaisim.driver import MapExplainer, explain_maps

    spec = {"sklearn": "logreg", "kwargs": {"max_iter": 200}}
    weights, _ = _train(digits, spec, "logreg_explain")
    index = read_index(digits / "index.csv")
    model = models.load_trained(spec, weights, 10)
    val = index[index["split"] == "val"].head(4)
    batches = loader(val, models.transform(models.data_config(model, spec, 8), train=False), 4)
    targets = torch.tensor(val["label"].to_numpy())
    for method in ("gradcam", "saliency"):
        with pytest.raises(Unsupported, match="needs gradients"):
            explain_maps(MapExplainer(method, {}, images=4, evals=64), model, batches, targets, CPU)
    params = {"segmentation": {"name": "grid", "cells": 2}, "n_samples": 14}
    maps, _ = explain_maps(MapExplainer("kernelshap", params, images=4, evals=64), model, batches, targets, CPU)
    assert maps.shape == (4, 8, 8) and np.isfinite(maps).all() and np.abs(maps).sum() > 0
