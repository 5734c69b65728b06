"""Reference inputs ("baselines") for perturbation and path methods (IG, KernelSHAP, LIME).

Every baseline lives in the model's normalised input space, like the inputs it replaces:

- ``zero``: normalised zero, i.e. the dataset-mean colour (the thesis' baseline);
- ``black``: pixel value 0 pushed through the model's normalisation, ``(0 - mean) / std``;
- ``blur``: the image itself blurred with a Gaussian of ``blur_sigma`` pixels (reflect padding, so
  blurring the normalised image equals normalising the blurred one);
- ``noise``: one Gaussian noise image ``N(0, noise_std^2)`` per channel and pixel, drawn from
  ``seed`` on the CPU and shared by every image, so the baseline does not depend on the batch
  size, the image order or the device.

Methods expose the choice through :data:`BaselineName`, :data:`BlurSigma` and :data:`NoiseStd`
parameters and call :func:`make_baseline` with the model's ``mean``/``std`` from :func:`mean_std`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

import torch
import torchvision.transforms.functional as TF
from pydantic import Field
from timm.data import resolve_model_data_config
from torch import Tensor, nn

BaselineName = Literal["zero", "black", "blur", "noise"]
BlurSigma = Annotated[float, Field(gt=0)]
NoiseStd = Annotated[float, Field(gt=0)]


def mean_std(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The per-channel ``mean`` and ``std`` the model's inputs were normalised with (timm's data
    config, as used by :func:`xaisim.models.data_config`; ImageNet statistics for non-timm models)."""
    cfg = resolve_model_data_config(model)
    return tuple(map(float, cfg["mean"])), tuple(map(float, cfg["std"]))


def make_baseline(
    inputs: Tensor,
    kind: BaselineName,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    blur_sigma: float = 5.0,
    noise_std: float = 1.0,
    seed: int = 0,
) -> Tensor:
    """A baseline of ``inputs``' shape, dtype and device for the normalised batch ``inputs`` (B, C, H, W)."""
    if inputs.ndim != 4:
        raise ValueError(f"baselines need a batch (B, C, H, W), got shape {tuple(inputs.shape)}")
    channels = inputs.shape[1]
    if kind == "zero":
        return torch.zeros_like(inputs)
    if kind == "black":
        if len(mean) != channels or len(std) != channels:
            raise ValueError(f"mean {tuple(mean)} / std {tuple(std)} do not match {channels} input channels")
        pixel_zero = -torch.as_tensor(mean, dtype=torch.float64) / torch.as_tensor(std, dtype=torch.float64)
        return pixel_zero.to(inputs).view(1, channels, 1, 1).expand_as(inputs).clone()
    if kind == "blur":
        if blur_sigma <= 0:
            raise ValueError(f"blur_sigma must be > 0, got {blur_sigma}")
        # Kernel covers +-3 sigma; reflect padding needs half the kernel to be smaller than the image.
        largest = 2 * min(inputs.shape[-2:]) - 1
        size = min(2 * math.ceil(3 * blur_sigma) + 1, largest if largest % 2 else largest - 1)
        return TF.gaussian_blur(inputs, kernel_size=[size, size], sigma=[blur_sigma, blur_sigma])
    if kind == "noise":
        if noise_std <= 0:
            raise ValueError(f"noise_std must be > 0, got {noise_std}")
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(inputs.shape[1:], generator=generator, dtype=torch.float32) * noise_std
        return noise.to(inputs).expand_as(inputs).clone()
    raise ValueError(f"unknown baseline {kind!r}; choose one of zero, black, blur, noise")
