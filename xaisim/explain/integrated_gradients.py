"""Integrated Gradients through captum, post-processed as in the thesis."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from captum.attr import IntegratedGradients
from pydantic import Field
from torch import Tensor, nn

from xaisim.explain import register_method


@register_method("integrated_gradients")
def integrated_gradients(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    *,
    n_steps: Annotated[int, Field(ge=1)] = 50,
    baseline: float = 0.0,
    integration: Literal["gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"] = "gausslegendre",
    internal_batch_size: Annotated[int, Field(ge=1)] = 128,
    clip_percentiles: tuple[Annotated[float, Field(ge=0, le=100)], Annotated[float, Field(ge=0, le=100)]] = (0.3, 99.7),
    absolute: bool = False,
) -> Tensor:
    """Channel-summed IG from a constant ``baseline`` (in normalised input space), clipped per image
    to ``clip_percentiles`` and divided by its largest absolute value; ``absolute`` takes |IG| first.
    ``internal_batch_size`` bounds memory: model evaluations per forward pass."""
    ig = IntegratedGradients(model)
    attr = ig.attribute(
        inputs,
        baselines=torch.full_like(inputs, float(baseline)),
        target=targets,
        n_steps=n_steps,
        method=integration,
        internal_batch_size=internal_batch_size,
    )
    maps = attr.sum(1).float()
    if absolute:
        maps = maps.abs()
    flat = maps.flatten(1)
    q = torch.tensor(clip_percentiles, dtype=flat.dtype, device=flat.device) / 100
    lo, hi = torch.quantile(flat, q, dim=1)
    maps = torch.maximum(torch.minimum(maps, hi[:, None, None]), lo[:, None, None])
    scale = maps.abs().amax(dim=(1, 2), keepdim=True)
    return torch.where(scale > 0, maps / scale.clamp_min(torch.finfo(maps.dtype).tiny), torch.zeros_like(maps))
