"""LIME on superpixels (Ribeiro et al. 2016, as in the ``lime`` package's LimeImageExplainer).

For each segmentation: ``n_samples`` coalitions ``z`` of the S segments (the full image first, then
distinct uniformly random ones; all ``2^S`` when they fit in ``n_samples``), evaluated batched over
images x coalitions (:mod:`xaisim.explain.perturb`); each weighted by lime's kernel on the cosine
distance to the full image, ``sqrt(exp(-d^2 / kernel_width^2))``; and a ridge regression of the
target score on ``z`` with an unpenalised intercept (lime's ``Ridge(alpha=1)``). The coefficients
are the segment weights.

The regression is a weighted least squares in float64 torch, not scikit-learn's Ridge: it is the
same estimator (tested against it), solved per image without a Python round trip through
scikit-learn, and stays on one code path with KernelSHAP's solve.

Several segmentations (the LIME MNIST example: SLIC at compactness 0.01, 0.1 and 1 and 5/7/11 grids) are
combined per image by dividing each one's pixel map by its largest absolute weight and averaging;
a single segmentation returns its raw weights.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any

import numpy as np
import torch
from pydantic import Field
from torch import Tensor, nn

from xaisim.explain import Needs, register_method
from xaisim.explain.baselines import BaselineName, BlurSigma, NoiseStd, make_baseline, mean_std
from xaisim.explain.perturb import Output, evaluate, spread
from xaisim.explain.segment import THESIS_SLIC, Segmentation, require_samples, segment, to_pixels


def design(n_segments: int, n_samples: int, seed: int) -> np.ndarray:
    """Coalitions (n, S) bool: all ``2^S`` if ``n_samples`` allows, else the full one and
    ``n_samples - 1`` distinct uniformly random others."""
    m = n_segments
    if m < 20 and n_samples >= 2**m:
        return np.array(list(itertools.product((True, False), repeat=m)), dtype=bool)
    rng = np.random.default_rng([seed, m])
    z = np.ones((1, m), dtype=bool)
    while len(z) < n_samples:
        drawn = np.concatenate([z, rng.random((2 * (n_samples - len(z)) + 16, m)) < 0.5])
        _, first = np.unique(drawn, axis=0, return_index=True)
        z = drawn[np.sort(first)]
    return z[:n_samples]


def kernel_weights(coalitions: np.ndarray, kernel_width: float) -> np.ndarray:
    """lime's sample weights: ``sqrt(exp(-d^2 / width^2))``, ``d`` the cosine distance to the full image
    (1 for the empty coalition, as scikit-learn's cosine distance gives)."""
    size = coalitions.sum(1)
    distance = 1 - np.sqrt(size / coalitions.shape[1])
    return np.sqrt(np.exp(-(distance**2) / kernel_width**2))


def ridge(coalitions: np.ndarray, weights: np.ndarray, scores: Tensor, alpha: float) -> Tensor:
    """Coefficients (S,) float64 of the weighted ridge regression with an unpenalised intercept."""
    x = torch.from_numpy(coalitions).double()
    w = torch.from_numpy(weights).double()
    y = scores.double()
    x = x - (w @ x) / w.sum()
    y = y - (w @ y) / w.sum()
    root = w.sqrt()[:, None]
    m = x.shape[1]
    a = torch.cat([root * x, torch.eye(m, dtype=x.dtype) * alpha**0.5])
    b = torch.cat([root[:, 0] * y, torch.zeros(m, dtype=y.dtype)])
    return torch.linalg.lstsq(a, b[:, None], driver="gelsd").solution[:, 0]


def validate(params: dict[str, Any]) -> None:
    """n_samples >= segments + 1 for every segmentation: one coefficient per segment and the intercept."""
    require_samples(params["segmentation"], params["n_samples"], lambda n: n + 1, "one per segment and the intercept")


@register_method("lime", needs=Needs(gradients=False, evals=True), validate=validate)
def lime(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    evals: int,
    *,
    segmentation: Segmentation | Annotated[list[Segmentation], Field(min_length=1)] = THESIS_SLIC,
    n_samples: Annotated[int, Field(ge=2, le=100_000)] = 1000,
    kernel_width: Annotated[float, Field(gt=0)] = 0.25,
    alpha: Annotated[float, Field(ge=0)] = 1.0,
    seed: int = 0,
    baseline: BaselineName = "zero",
    blur_sigma: BlurSigma = 5.0,
    noise_std: NoiseStd = 1.0,
    output: Output = "raw",
) -> Tensor:
    """LIME segment weights for the target score (``output``: raw or softmax), spread on pixels:
    (B, H, W) float32. ``n_samples`` evaluations per image and segmentation (the full image
    included); ``kernel_width`` and ``alpha`` (ridge penalty) as in lime; ``baseline`` fills the
    left-out segments. At most ``evals`` model evaluations per forward pass."""
    specs = segmentation if isinstance(segmentation, list) else [segmentation]
    pixels = to_pixels(model, inputs)
    mean, std = mean_std(model)
    base = make_baseline(inputs, baseline, mean=mean, std=std, blur_sigma=blur_sigma, noise_std=noise_std, seed=seed)
    maps = []
    for i, spec in enumerate(specs):
        segments = segment(pixels, spec)
        coalitions = [design(int(s.max()) + 1, n_samples, seed + i) for s in segments]
        scores = evaluate(model, inputs, base, segments, coalitions, targets, output, evals)
        weights = [ridge(z, kernel_weights(z, kernel_width), y, alpha) for z, y in zip(coalitions, scores)]
        maps.append(spread(weights, segments))
    if len(maps) == 1:
        return maps[0]
    scale = [m.flatten(1).abs().amax(1).clamp_min(torch.finfo(m.dtype).tiny)[:, None, None] for m in maps]
    return torch.stack([m / s for m, s in zip(maps, scale)]).mean(0)
