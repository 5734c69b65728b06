"""LRP-epsilon with the SIGN input-layer rule (Gumpfer et al. 2023) through zennit.

zennit computes the relevance: BatchNorm layers are merged into the preceding convolution
(:class:`zennit.canonizers.SequentialMergeBatchNorm`), residual additions of timm's ResNet blocks
become zennit ``Sum`` modules (:class:`TimmResNetCanonizer`, the twin of zennit's torchvision
``ResNetCanonizer``), convolutions and linear layers use ``Epsilon(epsilon)``, activations pass,
sums and average pools are normalised (zennit's base layer map), and the first convolution uses
the SIGN-epsilon rule ``R_i = sign_mu(x_i) * sum_j w_ji R_j / (z_j + epsilon)`` with threshold
``mu`` in the model's NORMALISED input space. The epsilon rules are :class:`Epsilon`, a zennit hook
that reuses each layer's own backward instead of re-running the layer (zennit's ``BasicHook``
does; about 3x the cost of a plain forward and backward on resnet50). The map is the channel sum,
raw, at the input size.

Supported: timm ResNet/ResNeXt-style models (``timm.models.resnet.ResNet`` with BasicBlock or
Bottleneck blocks built from convolutions, BatchNorm, ReLU, pooling and linear layers). Others
(attention, LayerNorm, squeeze-excitation, dense concatenation, ...) raise
:class:`~xaisim.explain.Unsupported` naming the first module zennit has no rule for here.
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from timm.layers import SelectAdaptivePool2d
from timm.models.resnet import BasicBlock, Bottleneck, ResNet
from torch import Tensor, nn
from zennit.attribution import Gradient
from zennit.canonizers import AttributeCanonizer, SequentialMergeBatchNorm
from zennit.composites import SpecialFirstLayerMapComposite, layer_map_base
from zennit.core import Hook, Stabilizer
from zennit.layer import Sum
from zennit.types import Convolution, Linear

from xaisim.explain import Unsupported, register_method

_LEAVES = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
           nn.Flatten, nn.Identity, nn.Dropout, SelectAdaptivePool2d)


class Epsilon(Hook):
    """zennit's ``Epsilon`` rule, and with ``mu`` the SIGN-epsilon input rule, without recomputing the layer.

    zennit's ``BasicHook`` re-runs each layer in the backward pass to differentiate it again; for the
    epsilon rule (parameters unmodified) the layer's own backward does the same job: a pre-hook on
    the output's ``grad_fn`` divides the incoming relevance by ``stabilize(z)`` (``z`` the layer's
    output from the forward pass), the layer's backward applies ``W^T``, and the input hook
    multiplies by ``x`` (or ``sign_mu(x)``). Same values as ``zennit.rules.Epsilon`` (tested), at the
    cost of one backward.
    """

    def __init__(self, epsilon: float = 1e-6, mu: float | None = None) -> None:
        super().__init__()
        self.epsilon, self.mu = epsilon, mu
        self.stabilize = Stabilizer.ensure(epsilon)

    def copy(self) -> "Epsilon":
        return Epsilon(self.epsilon, self.mu)

    def forward(self, module: nn.Module, input: tuple[Tensor, ...], output: Tensor) -> None:
        self.stored_tensors["input"] = input[0]

    def post_forward(self, module: nn.Module, input: tuple[Tensor, ...], output: Tensor) -> Tensor:
        if output.grad_fn is not None:
            z, version = output, output._version

            def divide(grad_outputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
                if z._version != version:
                    raise RuntimeError(f"{type(module).__name__}'s output was modified in place; LRP needs it intact")
                self.stored_tensors["grad_output"] = grad_outputs
                return (grad_outputs[0] / self.stabilize(z.detach()), *grad_outputs[1:])

            self.tensor_handles.append(output.grad_fn.register_prehook(divide))
        return output

    def backward(self, module: nn.Module, grad_input: tuple[Tensor, ...], grad_output: tuple[Tensor, ...]) -> tuple[Tensor]:
        x = self.stored_tensors["input"]
        factor = x if self.mu is None else torch.where(x >= self.mu, 1.0, -1.0).to(x)
        return (factor * grad_input[0],)


def _residual_forward(self: nn.Module, x: Tensor) -> Tensor:
    """timm BasicBlock/Bottleneck forward with the residual addition as a zennit ``Sum``."""
    shortcut = self.downsample(x) if self.downsample is not None else x
    if isinstance(self, BasicBlock):
        out = self.aa(self.act1(self.drop_block(self.bn1(self.conv1(x)))))
        out = self.bn2(self.conv2(out))
    else:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.aa(self.act2(self.drop_block(self.bn2(self.conv2(out)))))
        out = self.bn3(self.conv3(out))
    out = self.canonizer_sum(torch.stack([shortcut, out], dim=-1))
    return (self.act2 if isinstance(self, BasicBlock) else self.act3)(out)


class TimmResNetCanonizer(AttributeCanonizer):
    """Gives timm's residual blocks a ``Sum`` module for their addition, so a rule can apply to it."""

    def __init__(self) -> None:
        super().__init__(self._attribute_map)

    @staticmethod
    def _attribute_map(name: str, module: nn.Module) -> dict | None:
        if isinstance(module, (BasicBlock, Bottleneck)):
            return {"forward": _residual_forward.__get__(module), "canonizer_sum": Sum()}
        return None


def check_supported(model: nn.Module) -> None:
    """Raise :class:`Unsupported` unless the model is a timm ResNet made of layers with LRP rules here."""
    if not isinstance(model, ResNet):
        raise Unsupported(f"lrp_epsilon_sign supports timm ResNet/ResNeXt models only, not {type(model).__name__}")
    for name, module in model.named_modules():
        if isinstance(module, (BasicBlock, Bottleneck)):
            if module.se is not None:
                raise Unsupported(f"lrp_epsilon_sign has no rule for the squeeze-excitation in {name}")
        elif not list(module.children()) and not isinstance(module, _LEAVES):
            raise Unsupported(f"lrp_epsilon_sign has no rule for {type(module).__name__} ({name})")


def composite(mu: float, epsilon: float) -> SpecialFirstLayerMapComposite:
    """Epsilon everywhere, SIGN-epsilon on the first convolution, BatchNorm merged, residual sums canonised."""
    return SpecialFirstLayerMapComposite(
        layer_map=[*layer_map_base(), (Convolution, Epsilon(epsilon)), (Linear, Epsilon(epsilon))],
        first_map=[(Convolution, Epsilon(epsilon, mu))],
        canonizers=[SequentialMergeBatchNorm(), TimmResNetCanonizer()],
    )


@register_method("lrp_epsilon_sign")
def lrp_epsilon_sign(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    *,
    epsilon: Annotated[float, Field(gt=0)] = 1e-6,
    mu: Annotated[float, Field(allow_inf_nan=False)] = 0.0,
) -> Tensor:
    """Channel-summed LRP-epsilon relevance with the SIGN input rule (B, H, W); one batched pass."""
    check_supported(model)
    with torch.enable_grad(), Gradient(model, composite(mu, epsilon)) as attributor:
        x = inputs.detach().requires_grad_(True)
        logits = model(x)
        onehot = torch.zeros_like(logits).scatter_(1, targets.long().view(-1, 1), 1.0)
        _, relevance = attributor(x, onehot)
    return relevance.sum(1).float()
