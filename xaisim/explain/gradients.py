"""Plain gradient methods: one batched forward and backward each, gradients w.r.t. the inputs only.

With ``g = d y_t / d x`` (``y_t`` the target logit, ``x`` the normalised input):

- ``saliency``: ``max_c |g_c|`` (Simonyan et al. 2014);
- ``gradient_x_input``: ``sum_c g_c * x_c``;
- ``gradient_x_sign``: ``sum_c g_c * sign_mu(x_c)`` with ``sign_mu(x) = 1 if x >= mu else -1``
  (Gumpfer et al. 2023, SIGN). ``mu`` is a threshold in the model's NORMALISED input space
  (``(pixel - mean) / std``): ``mu = 0`` splits at the dataset-mean colour, not at pixel value 0.

Maps are raw (signed, un-normalised) at the input size.
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import Tensor, nn

from xaisim.explain import Needs, register_method


def input_gradients(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
    """``d y_t / d x`` (B, C, H, W) for the summed target logits, without touching parameter ``.grad``."""
    with torch.enable_grad():
        x = inputs.detach().requires_grad_(True)
        score = model(x).gather(1, targets.long().view(-1, 1)).sum()
        (grad,) = torch.autograd.grad(score, x)
    return grad


@register_method("saliency", needs=Needs(gradients=True))
def saliency(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
    """Largest absolute input gradient over the channels (B, H, W)."""
    return input_gradients(model, inputs, targets).abs().amax(1).float()


@register_method("gradient_x_input", needs=Needs(gradients=True))
def gradient_x_input(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
    """Channel-summed gradient x input (B, H, W)."""
    return (input_gradients(model, inputs, targets) * inputs).sum(1).float()


@register_method("gradient_x_sign", needs=Needs(gradients=True))
def gradient_x_sign(
    model: nn.Module, inputs: Tensor, targets: Tensor, *, mu: Annotated[float, Field(allow_inf_nan=False)] = 0.0
) -> Tensor:
    """Channel-summed gradient x SIGN with threshold ``mu`` in normalised input space (B, H, W)."""
    sign = torch.where(inputs >= mu, 1.0, -1.0).to(inputs.dtype)
    return (input_gradients(model, inputs, targets) * sign).sum(1).float()
