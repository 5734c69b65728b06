"""LIME: equals the weighted ridge / least squares computed with scikit-learn, combination, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from perturbation_data import coalition_scores, digits, model, segment_values
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import pairwise_distances

from xaisim.explain import METHODS
from xaisim.explain.lime import design, lime
from xaisim.explain.segment import segment, to_pixels

GRID4 = {"name": "grid", "cells": 2}
SLIC = {"name": "slic", "n_segments": 6, "compactness": 1.0}
TARGETS = torch.tensor([3, 8])
EVALS = 64  # model evaluations per forward pass


@pytest.fixture(scope="module")
def vit():
    return model("vit")


def reference(vit, x, seg, targets, alpha, width=0.25):
    """lime's recipe written out with scikit-learn on every coalition: cosine distance to the full image,
    kernel sqrt(exp(-d^2/w^2)), Ridge (or least squares for alpha 0) with sample weights."""
    out = []
    for b in range(len(x)):
        v = coalition_scores(vit, x[b], torch.zeros_like(x[b]), seg[b], int(targets[b]))
        z = np.array(list(v), dtype=float)
        d = pairwise_distances(z, np.ones((1, z.shape[1])), metric="cosine")[:, 0]
        w = np.sqrt(np.exp(-(d**2) / width**2))
        reg = Ridge(alpha=alpha) if alpha else LinearRegression()
        out.append(reg.fit(z, np.array(list(v.values())), sample_weight=w).coef_)
    return out


@pytest.mark.parametrize("alpha", [1.0, 0.0])
def test_every_coalition_equals_sklearns_weighted_regression(vit, alpha):
    x = digits(vit, n=2, start=30)
    for spec in (GRID4, SLIC):
        seg = segment(to_pixels(vit, x), spec)
        assert int(seg.max()) + 1 <= 8
        maps = lime(vit, x, TARGETS, EVALS, segmentation=spec, n_samples=256, alpha=alpha)
        for b, expected in enumerate(reference(vit, x, seg, TARGETS, alpha)):
            assert np.allclose(segment_values(maps[b], seg[b]), expected, atol=1e-6, rtol=1e-4)


def test_segmentations_combine_by_averaging_max_abs_normalised_weights(vit):
    x = digits(vit, n=2, start=40)
    single = [lime(vit, x, TARGETS, EVALS, segmentation=spec, n_samples=256) for spec in (GRID4, SLIC)]
    combined = lime(vit, x, TARGETS, EVALS, segmentation=[GRID4, SLIC], n_samples=256)
    expected = sum(m / m.flatten(1).abs().amax(1)[:, None, None] for m in single) / 2
    assert torch.allclose(combined, expected, atol=1e-6)
    assert combined.abs().amax() <= 1 + 1e-6


def test_sampled_coalitions_are_distinct_seeded_and_batch_independent(vit):
    z = design(25, 500, seed=0)
    assert z.shape == (500, 25) and z[0].all() and len(np.unique(z, axis=0)) == 500
    assert (design(25, 500, seed=0) == z).all() and not (design(25, 500, seed=1) == z).all()
    x = digits(vit, n=2, start=50)
    kw = dict(segmentation={"name": "slic", "n_segments": 15}, n_samples=40, seed=2)
    a = lime(vit, x, TARGETS, EVALS, **kw)
    assert torch.equal(a, lime(vit, x, TARGETS, EVALS, **kw))
    assert torch.allclose(a[1:], lime(vit, x[1:], TARGETS[1:], 9, **kw), atol=1e-5)
    assert all(p.grad is None for p in vit.parameters())


def test_parameters_are_validated_with_one_line_naming_the_field():
    with pytest.raises(ValueError, match=r"^cfg: n_samples: 30 is too few for 49 segments of grid; use n_samples >= 50"):
        METHODS.check_params("lime", {"segmentation": [SLIC, {"name": "grid", "cells": 7}], "n_samples": 30}, "cfg")
    with pytest.raises(ValueError, match=r"^cfg: segmentation|^cfg\.segmentation"):
        METHODS.check_params("lime", {"segmentation": [SLIC, "watershed"]}, "cfg")
    with pytest.raises(ValueError, match=r"^cfg\.kernel_width: Input should be greater than 0"):
        METHODS.check_params("lime", {"kernel_width": 0}, "cfg")
    seed002 = [{"name": "slic", "n_segments": 25, "compactness": c, "convert2lab": False} for c in (0.01, 0.1, 1.0)]
    seed002 += [{"name": "grid", "cells": n} for n in (5, 7, 11)]
    filled = METHODS.check_params("lime", {"segmentation": seed002, "n_samples": 500}, "cfg")
    assert [s["name"] for s in filled["segmentation"]] == ["slic"] * 3 + ["grid"] * 3
