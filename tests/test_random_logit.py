"""The random-logit check (Sixt et al. 2020): the other class is never the target, and known answers
on linear models explained by saliency: classes sharing one weight direction give identical maps,
independent class weights do not."""

import numpy as np
import pytest
import torch
from torch import nn

from xaisim.driver import MapExplainer
from xaisim.statistics.random_logit import check, other_classes, similarity_row


def test_the_other_class_is_uniform_over_the_other_classes_and_seeded():
    targets = np.repeat(np.arange(4), 500)
    other = other_classes(targets, 4, seed=0)
    assert (other != targets).all() and set(other) == {0, 1, 2, 3}
    assert np.bincount(other[targets == 0], minlength=4)[1:].min() > 130
    assert (other == other_classes(targets, 4, seed=0)).all()


def _linear(weights: torch.Tensor) -> nn.Module:
    model = nn.Sequential(nn.Flatten(), nn.Linear(weights.shape[1], len(weights), bias=False))
    with torch.no_grad():
        model[1].weight.copy_(weights)
    return model.eval()


@pytest.mark.parametrize("shared, low, high", [(True, 0.999, 1.0), (False, -0.5, 0.5)])
def test_saliency_ignores_the_class_only_when_the_classes_share_their_weights(shared, low, high):
    g = torch.Generator().manual_seed(0)
    d, classes = 3 * 5 * 5, 4
    direction = torch.randn(1, d, generator=g)
    weights = direction * torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) if shared else torch.randn(classes, d, generator=g)
    model, x = _linear(weights), torch.randn(6, 3, 5, 5, generator=g)
    targets = torch.zeros(6, dtype=torch.long)
    explain = MapExplainer("saliency", {}, images=6, evals=8)
    original = explain(model, x, targets).maps.numpy()
    row = check(model, x, original, targets.numpy(), classes, lambda *a: explain(*a).maps, seed=1)
    assert low <= row["spearman"] <= high and row["images"] == 6 and row["undefined"] == 0


def test_undefined_images_are_counted_and_left_out():
    a = np.random.default_rng(0).normal(size=(3, 4, 4))
    b = a.copy()
    b[1] = 0
    row = similarity_row(a, b)
    assert row["undefined"] == 1 and row["spearman"] == pytest.approx(1) and row["cosine"] == pytest.approx(1)
