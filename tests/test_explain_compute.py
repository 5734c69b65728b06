"""The explain stage's outcomes: unsupported pairs, NaN/zero counts, extras, out-of-memory retries."""

import logging

import numpy as np
import pandas as pd
import pytest
import timm
import torch
from safetensors.torch import save_model

from xaisim.explain import METHODS, Explanation, Unsupported
from xaisim.explain.batching import eval_batch_size
from xaisim.explain.compute import explain, explain_model
from xaisim.io import ArrayFile
from xaisim.models import build_spec
from xaisim.registry import Entry

N_CLASSES = 2


@pytest.fixture
def stage(tmp_path, imagefolder):
    """Index, subset, predictions and weights of a tiny resnet for explain_model."""
    rows = []
    for p in sorted(imagefolder.rglob("*.png")):
        split, cls = p.parent.parent.name, p.parent.name
        rows.append(dict(image_id=p.stem, path=str(p.relative_to(tmp_path)), label=["cat", "dog"].index(cls),
                         class_name=cls, split=split))
    index = pd.DataFrame(rows)
    index.to_csv(tmp_path / "index.csv", index=False)
    val = index[index.split == "val"]
    val[["image_id"]].to_csv(tmp_path / "subset.csv", index=False)
    val.assign(pred=val.label)[["image_id", "label", "pred"]].to_csv(tmp_path / "pred.csv", index=False)
    spec = build_spec({"name": "r", "arch": "resnet10t"})
    torch.manual_seed(0)
    save_model(timm.create_model("resnet10t", num_classes=N_CLASSES), str(tmp_path / "w.safetensors"))

    def run(method, params=None, **kw):
        return explain_model(str(tmp_path / "index.csv"), str(tmp_path / "subset.csv"), str(tmp_path / "pred.csv"),
                             spec, str(tmp_path / "w.safetensors"), model_name="r", method_name="m", method=method,
                             params=params or {}, image_size=16, batch_size=3, target="pred", seed=0,
                             device=torch.device("cpu"), out_path=str(tmp_path / "out.safetensors"), **kw)

    return run, tmp_path / "out.safetensors"


def test_unsupported_is_recorded_or_fails(stage, monkeypatch, caplog):
    def never(model, inputs, targets):
        raise Unsupported("no attention in a CNN")

    monkeypatch.setitem(METHODS._entries, "never", Entry(never))
    run, out = stage
    with caplog.at_level(logging.WARNING):
        run("never")
    f = ArrayFile(out)
    assert f.meta["unsupported"] == "no attention in a CNN" and f.read("maps").shape == (0, 1, 1)
    assert "does not support model r" in caplog.text
    with pytest.raises(RuntimeError, match="'m' .*does not support model 'r': no attention.*on_unsupported"):
        run("never", on_unsupported="fail")


def test_nonfinite_and_zero_maps_are_counted_and_extras_stored(stage, monkeypatch, caplog):
    done = []

    def odd(model, inputs, targets):  # image 0: a NaN, image 1: Inf, image 2: all zero
        maps = inputs.mean(1)
        for i in range(len(inputs)):
            n = len(done) + i
            if n < 2:
                maps[i, 0, 0] = (float("nan"), float("inf"))[n]
            elif n == 2:
                maps[i] = 0
        done.extend(range(len(inputs)))
        return Explanation(maps, {"score": inputs.flatten(1).sum(1)})

    monkeypatch.setitem(METHODS._entries, "odd", Entry(odd))
    run, out = stage
    with caplog.at_level(logging.WARNING):
        run("odd")
    f = ArrayFile(out)
    assert f.meta["nonfinite"] == 2 and f.meta["zero_maps"] == 1
    assert f.read("score").shape == (len(done),) and np.isnan(f.read("maps")).sum() == 1
    assert "hold NaN" in caplog.text and "zero everywhere" in caplog.text


def test_unknown_layer_names_model_method_and_override(stage):
    run, _ = stage
    with pytest.raises(ValueError, match=r"model 'r', method 'm': unknown layer 'layer9'.*methods: \{m: "):
        run("gradcam", {"layer": "layer9"})


def test_out_of_memory_halves_the_batches_and_keeps_the_result(monkeypatch, caplog):
    seen = []

    def hungry(model, inputs, targets):
        seen.append((len(inputs), eval_batch_size()))
        if len(inputs) > 1 or eval_batch_size() > 8:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return Explanation(inputs.sum(1), {"t": targets})

    monkeypatch.setitem(METHODS._entries, "hungry", Entry(hungry))
    x = torch.randn(5, 3, 4, 4)
    batches = torch.utils.data.DataLoader(list(zip(x, torch.zeros(5))), batch_size=4)
    with caplog.at_level(logging.WARNING):
        maps, extras = explain(torch.nn.Identity(), batches, torch.arange(5), "hungry", {}, torch.device("cpu"),
                               eval_batch_size=32)
    np.testing.assert_allclose(maps, x.sum(1).numpy(), rtol=1e-6)
    assert extras["t"].tolist() == [0, 1, 2, 3, 4]
    assert seen[:3] == [(4, 32), (2, 16), (1, 8)] and all(s == (1, 8) for s in seen[3:])  # halved once, kept
    assert "out of memory" in caplog.text
