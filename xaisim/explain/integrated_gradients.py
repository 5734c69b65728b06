"""Integrated Gradients, batched over images x steps, checked against captum.

``IG_i(x) = (x_i - b_i) * sum_k w_k * d y_t / d x_i (b + a_k (x - b))`` with captum's integration
nodes ``a_k`` and weights ``w_k`` (:func:`captum.attr._utils.approximation_methods.approximation_parameters`),
``b`` a baseline of :mod:`xaisim.explain.baselines` and ``y_t`` the target logit. Every forward
pass carries up to ``evals`` (the evaluation budget) interpolated images of several images and
steps; gradients are taken w.r.t. the inputs only (no parameter ``.grad``).
The completeness error ``|sum_i IG_i - (y_t(x) - y_t(b))|`` is returned per image as the extra
array ``completeness``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from xaisim.explain import Explanation, Needs, register_method
from xaisim.explain.baselines import BaselineName, BlurSigma, NoiseStd, make_baseline, mean_std

Integration = Literal["gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"]


def _target_logits(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
    return model(inputs).gather(1, targets.view(-1, 1)).squeeze(1)


def ig_attributions(
    model: nn.Module, inputs: Tensor, targets: Tensor, baseline: Tensor, n_steps: int, integration: Integration,
    evals: int,
) -> Tensor:
    """Raw IG attributions (B, C, H, W) of ``inputs`` from ``baseline`` for ``targets``, at most
    ``evals`` interpolated images per forward pass."""
    # imported here: captum.attr brings matplotlib, a second per job that only IG needs
    from captum.attr._utils.approximation_methods import approximation_parameters

    step_sizes, alphas = (torch.as_tensor(f(n_steps), dtype=inputs.dtype, device=inputs.device)
                          for f in approximation_parameters(integration))
    batch, delta = len(inputs), inputs - baseline
    steps_per_pass = max(1, evals // batch)
    total = torch.zeros_like(inputs)
    targets = targets.long()
    with torch.enable_grad():
        for start in range(0, n_steps, steps_per_pass):
            a, w = alphas[start : start + steps_per_pass], step_sizes[start : start + steps_per_pass]
            # (steps, B, C, H, W) -> (steps * B, C, H, W), step-major
            path = (baseline[None] + a.view(-1, 1, 1, 1, 1) * delta[None]).flatten(0, 1).requires_grad_(True)
            score = _target_logits(model, path, targets.repeat(len(a))).sum()
            (grad,) = torch.autograd.grad(score, path)
            total += (grad.view(len(a), batch, *inputs.shape[1:]) * w.view(-1, 1, 1, 1, 1)).sum(0)
    return total * delta


@register_method("integrated_gradients", needs=Needs(gradients=True, evals=True))
def integrated_gradients(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    evals: int,
    *,
    n_steps: Annotated[int, Field(ge=1, le=10_000)] = 50,
    baseline: BaselineName = "zero",
    blur_sigma: BlurSigma = 5.0,
    noise_std: NoiseStd = 1.0,
    seed: int = 0,
    integration: Integration = "gausslegendre",
) -> Explanation:
    """Channel-summed IG (raw, signed; B, H, W) from ``baseline`` (see :mod:`xaisim.explain.baselines`;
    ``blur_sigma``, ``noise_std`` and ``seed`` apply to ``blur``/``noise``). Extra array
    ``completeness`` (B,). The thesis' clip at 0.3/99.7 % and division by max |x| is the similarity
    stage's normalisation ``percentile``."""
    mean, std = mean_std(model)
    base = make_baseline(inputs, baseline, mean=mean, std=std, blur_sigma=blur_sigma, noise_std=noise_std, seed=seed)
    attr = ig_attributions(model, inputs, targets, base, n_steps, integration, evals)
    with torch.no_grad():
        ends = _target_logits(model, torch.cat([inputs, base]), targets.long().repeat(2)).view(2, -1)
    completeness = (attr.flatten(1).sum(1) - (ends[0] - ends[1])).abs().float()
    return Explanation(attr.sum(1).float(), {"completeness": completeness})
