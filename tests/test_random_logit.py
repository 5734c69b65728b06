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


def test_the_similarity_equals_quantus_random_logit_with_two_classes():
    """Two classes leave one other class, so Quantus 0.6's draw and ours agree: its RandomLogit (Spearman,
    no normalisation) of a small ReLU network scores what :func:`check` scores, in the mean. Test-only
    reference, skipped where Quantus is absent (the Makefile installs it)."""
    quantus = pytest.importorskip("quantus")
    g = torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2)).eval()
    x, targets = torch.randn(8, 3, 6, 6, generator=g), torch.randint(0, 2, (8,), generator=g)
    explain = MapExplainer("saliency", {}, images=8, evals=8)
    original = explain(model, x, targets).maps.numpy()
    row = check(model, x, original, targets.numpy(), 2, lambda *a: explain(*a).maps, seed=0)

    def quantus_explain(model, inputs, targets, **_):
        maps = explain(model, torch.as_tensor(inputs), torch.as_tensor(targets)).maps
        return maps.numpy()[:, None]

    metric = quantus.RandomLogit(similarity_func=quantus.similarity_func.correlation_spearman, num_classes=2,
                                 normalise=False, abs=False, disable_warnings=True)
    want = metric(model=model, x_batch=x.numpy(), y_batch=targets.numpy(), a_batch=original[:, None],
                  explain_func=quantus_explain, device="cpu", channel_first=True)
    assert np.std(want) > 0.01  # ReLU: the maps differ image by image
    assert row["undefined"] == 0 and row["spearman"] == pytest.approx(float(np.mean(want)), abs=1e-6)
