"""Shared fixtures of the perturbation-method tests: real digit images and tiny random-weight models."""

from __future__ import annotations

import itertools
import math

import numpy as np
import timm
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from torch import Tensor, nn

from xaisim.explain.baselines import mean_std

NUM_CLASSES = 10
SIZE = 32


def model(arch: str = "resnet") -> nn.Module:
    """Random-init eval-mode timm model at 32 px (``resnet``: resnet10t; ``vit``: a 2-block ViT)."""
    torch.manual_seed(0)
    if arch == "vit":
        return timm.create_model("vit_tiny_patch16_224", num_classes=NUM_CLASSES, img_size=SIZE, patch_size=8,
                                 depth=2, embed_dim=64, num_heads=2).eval()
    return timm.create_model("resnet10t", num_classes=NUM_CLASSES).eval()


class DigitsLogReg(nn.Module):
    """A scikit-learn classifier as a module: grey 8 x 8 pooling of the image, then predict_proba
    (no gradients: explains through class scores only)."""

    def __init__(self) -> None:
        super().__init__()
        digits = load_digits()
        self.clf = LogisticRegression(max_iter=200).fit(digits.data[:600] / 16, digits.target[:600])
        self.mean, self.std = mean_std(self)

    def forward(self, x: Tensor) -> Tensor:
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        grey = (x.cpu() * std + mean).mean(1, keepdim=True)
        small = nn.functional.adaptive_avg_pool2d(grey, 8).flatten(1).numpy()
        return torch.from_numpy(self.clf.predict_proba(small)).float()


def digits(model: nn.Module, n: int = 3, start: int = 0) -> Tensor:
    """``n`` real handwritten digits at 32 px as RGB, normalised like ``model``'s inputs."""
    images = load_digits().images[start : start + n] / 16.0
    big = np.kron(images, np.ones((SIZE // 8, SIZE // 8)))
    # 8-bit pixels, as a loaded PNG: the segmentation sees exactly these values
    x = torch.from_numpy(np.round(big * 255) / 255).float()[:, None].expand(-1, 3, -1, -1)
    mean, std = mean_std(model)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def coalition_scores(model: nn.Module, x: Tensor, base: Tensor, seg: Tensor, target: int) -> dict[tuple, float]:
    """v(z) for every coalition z of one image, by masking directly (independent of xaisim's core)."""
    m = int(seg.max()) + 1
    zs = list(itertools.product((0, 1), repeat=m))
    out = {}
    with torch.no_grad():
        for i in range(0, len(zs), 128):
            batch = []
            for z in zs[i : i + 128]:
                keep = torch.tensor(z, dtype=torch.bool)[seg]
                batch.append(torch.where(keep, x, base))
            scores = model(torch.stack(batch))[:, target].double()
            out.update(zip(zs[i : i + 128], scores.tolist()))
    return out


def exact_shapley(v: dict[tuple, float]) -> np.ndarray:
    """Shapley values by the definition: sum over coalitions of the weighted marginal contributions."""
    m = len(next(iter(v)))
    phi = np.zeros(m)
    for z, value in v.items():
        s = sum(z)
        for i in range(m):
            if z[i] == 0:
                with_i = z[:i] + (1,) + z[i + 1 :]
                phi[i] += math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) * (v[with_i] - value)
    return phi


def segment_values(maps: Tensor, seg: Tensor) -> np.ndarray:
    """The per-segment values a map spreads on pixels (checks that each segment is constant)."""
    m = int(seg.max()) + 1
    values = np.array([maps[seg == j].unique().item() if (seg == j).any() else np.nan for j in range(m)])
    return values
