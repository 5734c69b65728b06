"""Integrated Gradients through captum: raw channel-summed attributions at the input size."""

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
) -> Tensor:
    """Channel-summed IG (raw, signed) from a constant ``baseline`` (in normalised input space).
    ``internal_batch_size`` bounds memory: model evaluations per forward pass. The thesis' clip at
    0.3/99.7 % and division by max |x| is the similarity stage's normalisation ``percentile``."""
    ig = IntegratedGradients(model)
    attr = ig.attribute(
        inputs,
        baselines=torch.full_like(inputs, float(baseline)),
        target=targets,
        n_steps=n_steps,
        method=integration,
        internal_batch_size=internal_batch_size,
    )
    return attr.sum(1).float()
