"""Superpixel segmentations for the perturbation methods (KernelSHAP, LIME), via scikit-image.

A segmentation is a small validated spec, written in a config as a name or a mapping::

    segmentation: slic                                   # scikit-image's defaults below
    segmentation: {name: slic, n_segments: 50}           # the thesis' KernelSHAP superpixels
    segmentation: {name: grid, cells: 7}                 # a regular 7 x 7 grid

- ``slic``: :func:`skimage.segmentation.slic` (``n_segments``, ``compactness``, ``sigma``,
  ``convert2lab``; the LIME MNIST example used ``convert2lab: false`` with compactness 0.01, 0.1 and 1);
- ``quickshift``: :func:`skimage.segmentation.quickshift` (``ratio``, ``kernel_size``, ``max_dist``,
  ``sigma``);
- ``felzenszwalb``: :func:`skimage.segmentation.felzenszwalb` (``scale``, ``sigma``, ``min_size``);
- ``grid``: ``cells`` x ``cells`` rectangles of (nearly) equal size.

Segmentations run on the image as pixels: the model's normalisation is undone and the values are
rounded to 8 bits, which recovers the loaded image exactly, so every model sees the same segments
of an image whatever its normalisation. Labels are renumbered 0..S-1 per image.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, Literal, Union

import numpy as np
import torch
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter
from skimage import segmentation as sks
from torch import Tensor, nn


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def expected_segments(self) -> int | None:
        """The number of segments known before seeing an image (None: depends on the image)."""
        return None


class Slic(_Spec):
    name: Literal["slic"] = "slic"
    n_segments: Annotated[int, Field(ge=2, le=10_000)] = 50
    compactness: Annotated[float, Field(gt=0)] = 10.0
    sigma: Annotated[float, Field(ge=0)] = 0.0
    convert2lab: bool = True

    def expected_segments(self) -> int:
        return self.n_segments

    def labels(self, image: np.ndarray) -> np.ndarray:
        return sks.slic(image, n_segments=self.n_segments, compactness=self.compactness, sigma=self.sigma,
                        convert2lab=self.convert2lab, start_label=0, channel_axis=-1)


class Quickshift(_Spec):
    name: Literal["quickshift"] = "quickshift"
    ratio: Annotated[float, Field(ge=0, le=1)] = 1.0
    kernel_size: Annotated[float, Field(gt=0)] = 5.0
    max_dist: Annotated[float, Field(gt=0)] = 10.0
    sigma: Annotated[float, Field(ge=0)] = 0.0

    def labels(self, image: np.ndarray) -> np.ndarray:
        return sks.quickshift(image, ratio=self.ratio, kernel_size=self.kernel_size, max_dist=self.max_dist,
                              sigma=self.sigma, rng=0, channel_axis=-1)


class Felzenszwalb(_Spec):
    name: Literal["felzenszwalb"] = "felzenszwalb"
    scale: Annotated[float, Field(gt=0)] = 100.0
    sigma: Annotated[float, Field(ge=0)] = 0.8
    min_size: Annotated[int, Field(ge=1)] = 50

    def labels(self, image: np.ndarray) -> np.ndarray:
        return sks.felzenszwalb(image, scale=self.scale, sigma=self.sigma, min_size=self.min_size, channel_axis=-1)


class Grid(_Spec):
    name: Literal["grid"] = "grid"
    cells: Annotated[int, Field(ge=1, le=100)] = 7

    def expected_segments(self) -> int:
        return self.cells**2

    def labels(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        rows = np.arange(h) * self.cells // h
        cols = np.arange(w) * self.cells // w
        return rows[:, None] * self.cells + cols[None, :]


def _from_name(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value


Segmentation = Annotated[
    Union[Slic, Quickshift, Felzenszwalb, Grid], Field(discriminator="name"), BeforeValidator(_from_name)
]
"""A segmentation spec: a parameter annotation for registered methods."""

_adapter: TypeAdapter = TypeAdapter(Segmentation)
THESIS_SLIC = Slic()
"""SLIC with 50 segments, the thesis' KernelSHAP superpixels."""


def parse(spec: Segmentation | dict | str) -> Slic | Quickshift | Felzenszwalb | Grid:
    """A spec from its config form (a name or a mapping); validated."""
    return spec if isinstance(spec, _Spec) else _adapter.validate_python(spec)


def require_samples(segmentation: Any, n_samples: int, least: Callable[[int], int], why: str) -> None:
    """``ValueError("n_samples: ...")`` when ``n_samples`` is below ``least(segments)`` for a slic or
    grid segmentation (or any of a list of them); other segment counts depend on the image."""
    for spec in segmentation if isinstance(segmentation, list) else [segmentation]:
        expected = parse(spec).expected_segments()
        if expected is not None and n_samples < least(expected):
            raise ValueError(
                f"n_samples: {n_samples} is too few for {expected} segments of {spec['name']}; use n_samples >= "
                f"{least(expected)} ({why}) or fewer segments"
            )


def to_pixels(model: nn.Module, inputs: Tensor) -> np.ndarray:
    """The normalised batch ``inputs`` (B, 3, H, W) back as 8-bit images (B, H, W, 3).

    The normalisation is timm's data config of ``model`` (what :func:`xaisim.models.data_config`
    used to prepare the inputs; ImageNet statistics for non-timm models).
    """
    from xaisim.explain.baselines import mean_std

    mean, std = mean_std(model)
    x = inputs.detach().double().cpu()
    x = x * torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1) + torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def segment(images: np.ndarray, spec: Segmentation | dict | str) -> Tensor:
    """Label maps (B, H, W) int64 with labels 0..S_b-1 for 8-bit images (B, H, W, 3)."""
    spec = parse(spec)
    out = np.empty(images.shape[:3], dtype=np.int64)
    for b, image in enumerate(images):
        out[b] = np.unique(spec.labels(image), return_inverse=True)[1].reshape(image.shape[:2])
    return torch.from_numpy(out)
