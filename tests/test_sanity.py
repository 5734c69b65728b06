import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from xaisim.explain import METHODS, Unsupported
from xaisim.statistics.sanity import map_similarity, mprt, randomisable


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)).eval()


def _batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(3, 3, 12, 12, generator=g), torch.tensor([0, 1, 2])


def test_map_similarity_matches_scipy_per_image():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 5, 5)), rng.normal(size=(4, 5, 5))
    b[1] = 2 * a[1]
    sims = map_similarity(a, b)
    for i in range(4):
        assert sims["spearman"][i] == pytest.approx(spearmanr(a[i].ravel(), b[i].ravel())[0])
    assert sims["spearman"][1] == pytest.approx(1) and sims["cosine"][1] == pytest.approx(1)
    assert math.isnan(map_similarity(np.zeros((1, 5, 5)), a[:1])["cosine"][0])


def test_layers_are_randomised_from_the_top():
    net = _net()
    assert randomisable(net) == [net[6], net[2], net[0]]


def test_a_method_that_ignores_the_weights_stays_identical():
    x, t = _batch()
    rows = mprt(_net(), x, t, lambda m, i, tt: i.abs().sum(1), [0.3, 1.0], seed=0)
    assert [r["layers"] for r in rows] == [1, 3] and all(r["of_layers"] == 3 for r in rows)
    assert all(r["spearman"] == pytest.approx(1) and r["cosine"] == pytest.approx(1) for r in rows)


def test_integrated_gradients_change_when_the_weights_are_randomised_and_the_model_is_left_alone():
    net, (x, t) = _net(), _batch()
    before = [p.clone() for p in net.parameters()]
    ig = METHODS.get("integrated_gradients")
    rows = mprt(net, x, t, lambda m, i, tt: ig(m, i, tt, 64, n_steps=8).maps, [0.3, 0.6, 1.0], seed=0)
    assert rows[-1]["cosine"] < 0.9 and rows[-1]["spearman"] < 0.9 and rows[-1]["undefined"] == 0
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    again = mprt(net, x, t, lambda m, i, tt: ig(m, i, tt, 64, n_steps=8).maps, [0.3, 0.6, 1.0], seed=0)
    assert rows == again


def test_an_unsupported_method_gives_the_reason():
    def rollout(model, inputs, targets):
        raise Unsupported("attention rollout needs a ViT")

    x, t = _batch()
    assert mprt(_net(), x, t, rollout, [1.0], seed=0) == [{"reason": "not supported: attention rollout needs a ViT"}]


def test_sanity_table_reexplains_through_the_driver(explain_inputs):
    from xaisim.models import build_spec
    from xaisim.statistics.sanity import sanity_table

    d = explain_inputs
    models = {"r": {"spec": build_spec({"name": "r", "arch": "resnet10t"}), "weights": str(d / "w.safetensors"),
                    "predictions": str(d / "pred.csv")},
              "lr": {"spec": {"sklearn": "logreg"}, "weights": str(d / "lr.safetensors"), "predictions": str(d / "pred.csv")}}
    methods = {"IG": {"method": "integrated_gradients", "params": {m: {"n_steps": 4} for m in models}}}
    table = sanity_table(models, methods, index_path=str(d / "index.csv"), subset_path=str(d / "subset.csv"),
                         image_size=16, images=3, depths=[0.5, 1.0], seed=0, evals=4, device=torch.device("cpu"))
    resnet, sklearn = table[table.model == "r"], table[table.model == "lr"]
    assert resnet["depth"].tolist() == [0.5, 1.0] and (resnet["images"] == 3).all() and (resnet["reason"] == "").all()
    (reason,) = sklearn["reason"]
    assert reason.startswith("not supported: integrated_gradients needs gradients, which ")
