"""The explain driver's outcomes: unsupported pairs, NaN/zero counts, extras, the evaluation budget,
out-of-memory retries."""

import logging

import numpy as np
import pytest
import torch

from xaisim.driver import MapExplainer, explain_maps, explain_model, needs
from xaisim.explain import METHODS, Explanation, Needs, Unsupported, register_method
from xaisim.io import ArrayFile
from xaisim.models import build_spec

FORWARD = Needs(gradients=False)


@pytest.fixture
def register(monkeypatch):
    """``register(name, fn, needs)``: a map method for one test."""
    monkeypatch.setattr(METHODS, "_entries", dict(METHODS._entries))
    return lambda name, fn, needs=FORWARD: register_method(name, needs=needs)(fn)


@pytest.fixture
def stage(explain_inputs):
    """explain_model on the tiny resnet (or another model) of ``explain_inputs``."""
    tmp_path = explain_inputs

    def run(method, params=None, spec=None, weights="w.safetensors", evals=64, **kw):
        spec = spec or build_spec({"name": "r", "arch": "resnet10t"})
        return explain_model(str(tmp_path / "index.csv"), str(tmp_path / "subset.csv"), str(tmp_path / "pred.csv"),
                             spec, str(tmp_path / weights), model_name="r", method_name="m", method=method,
                             params=params or {}, image_size=16, batch_size=3, target="pred", seed=0,
                             device=torch.device("cpu"), out_path=str(tmp_path / "out.safetensors"), evals=evals,
                             memory_mb=64, **kw)

    return run, tmp_path / "out.safetensors"


def test_unsupported_is_recorded_or_fails(stage, register, caplog):
    def never(model, inputs, targets):
        raise Unsupported("no attention in a CNN")

    register("never", never)
    run, out = stage
    with caplog.at_level(logging.WARNING):
        run("never")
    f = ArrayFile(out)
    assert f.meta["unsupported"] == "no attention in a CNN" and f.read("maps").shape == (0, 1, 1)
    assert len(f.meta["image_ids"]) == len(f.read("targets")) > 0  # the images it was asked to explain
    assert "does not support model r" in caplog.text
    with pytest.raises(RuntimeError, match="'m' .*does not support model 'r': no attention.*on_unsupported"):
        run("never", on_unsupported="fail")


def test_a_method_needing_gradients_on_a_scikit_learn_model_is_recorded_unsupported(stage):
    run, out = stage
    for method in ("saliency", "integrated_gradients"):
        assert needs(method).gradients
        run(method, spec={"sklearn": "logreg"}, weights="lr.safetensors")
        f = ArrayFile(out)
        assert f.read("maps").shape == (0, 1, 1)
        assert f.meta["unsupported"].startswith(f"{method} needs gradients, which ")
    assert not needs("kernelshap").gradients  # forward only: it explains the same model
    run("kernelshap", {"segmentation": {"name": "grid", "cells": 2}, "n_samples": 14},
        spec={"sklearn": "logreg"}, weights="lr.safetensors")
    f = ArrayFile(out)
    assert "unsupported" not in f.meta and f.read("maps").shape == (len(f.meta["image_ids"]), 16, 16)


def test_nonfinite_and_zero_maps_are_counted_and_extras_stored(stage, register, caplog):
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

    register("odd", odd)
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


def test_the_driver_passes_the_evaluation_budget_to_the_methods_that_declare_it(stage, register):
    seen = []
    register("budgeted", lambda model, inputs, targets, evals: seen.append(evals) or inputs.mean(1),
             Needs(gradients=False, evals=True))
    register("plain", lambda model, inputs, targets: inputs.mean(1))
    run, _ = stage
    run("budgeted", evals=5)
    run("plain", evals=5)  # takes no budget: called without one
    assert seen and set(seen) == {5}


def test_out_of_memory_halves_the_batches_and_keeps_the_result(register, caplog):
    seen = []

    def hungry(model, inputs, targets, evals):
        seen.append((len(inputs), evals))
        if len(inputs) > 1 or evals > 8:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return Explanation(inputs.sum(1), {"t": targets})

    register("hungry", hungry, Needs(gradients=False, evals=True))
    x = torch.randn(5, 3, 4, 4)
    batches = torch.utils.data.DataLoader(list(zip(x, torch.zeros(5))), batch_size=4)
    explainer = MapExplainer("hungry", {}, images=4, evals=32)
    with caplog.at_level(logging.WARNING):
        maps, extras = explain_maps(explainer, torch.nn.Identity(), batches, torch.arange(5), torch.device("cpu"))
    np.testing.assert_allclose(maps, x.sum(1).numpy(), rtol=1e-6)
    assert extras["t"].tolist() == [0, 1, 2, 3, 4]
    assert seen[:3] == [(4, 32), (2, 16), (1, 8)] and all(s == (1, 8) for s in seen[3:])  # halved once, kept
    assert "out of memory" in caplog.text
