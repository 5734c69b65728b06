"""LRP-epsilon with the SIGN input-layer rule (Gumpfer et al. 2023) through zennit.

zennit computes the relevance: BatchNorm layers are merged into the preceding convolution
(:class:`zennit.canonizers.SequentialMergeBatchNorm`), residual additions of timm's ResNet blocks
become :class:`Add` modules (:class:`TimmResNetCanonizer`, the twin of zennit's torchvision
``ResNetCanonizer``), convolutions and linear layers use the epsilon rule, residual sums and average
pools are normalised (zennit's ``Norm`` rule, which is the epsilon rule with epsilon 1e-6),
activations pass (see :func:`composite`), and the first convolution uses the SIGN-epsilon rule
``R_i = sign_mu(x_i) * sum_j w_ji R_j / (z_j + epsilon)`` with threshold ``mu`` in the model's
NORMALISED input space. The epsilon rules are :class:`Epsilon`, a zennit hook that reuses each
layer's own backward where zennit's ``BasicHook`` copies the input and re-runs the layer (3.5x the
time of a plain forward and backward on resnet50). The map is the channel sum, raw, at the input
size.

Supported: timm ResNet/ResNeXt-style models (``timm.models.resnet.ResNet`` with BasicBlock or
Bottleneck blocks built from convolutions, BatchNorm, ReLU, pooling and linear layers). Others
(attention, LayerNorm, squeeze-excitation, dense concatenation, ...) raise
:class:`~xaisim.explain.Unsupported` naming the first module zennit has no rule for here.
"""

from __future__ import annotations

import weakref
from typing import Annotated

import torch
from pydantic import Field
from timm.layers import SelectAdaptivePool2d
from timm.models.resnet import BasicBlock, Bottleneck, ResNet
from torch import Tensor, nn
from zennit.attribution import Gradient
from zennit.canonizers import AttributeCanonizer, SequentialMergeBatchNorm
from zennit.composites import SpecialFirstLayerMapComposite
from zennit.core import Hook, Identity
from zennit.rules import Norm
from zennit.types import AvgPool, Convolution, Linear

from xaisim.explain import Needs, Unsupported, register_method

_LEAVES = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
           nn.Flatten, nn.Identity, nn.Dropout, SelectAdaptivePool2d)


class Epsilon(Hook):
    """zennit's ``Epsilon`` rule, and with ``mu`` the SIGN-epsilon input rule, at the cost of the layer's backward.

    zennit's ``BasicHook`` copies each layer's input and re-runs the layer in the backward pass to
    differentiate it again. For the epsilon rule (parameters unmodified) the layer's own backward
    does that job: a pre-hook on the output's ``grad_fn`` divides the incoming relevance by
    ``stabilize(z)`` (``z`` the layer's output from the forward pass, computed again only if it was
    changed in place, as an in-place ReLU does to a residual sum), the layer's backward applies
    ``W^T``, and a hook on the input multiplies by ``x`` (or ``sign_mu(x)``). The input is not
    copied: an in-place change of it before the backward raises. Same values as
    ``zennit.rules.Epsilon`` (tested).
    """

    def __init__(self, epsilon: float = 1e-6, mu: float | None = None) -> None:
        super().__init__()
        self.epsilon, self.mu = epsilon, mu

    def copy(self) -> "Epsilon":
        return Epsilon(self.epsilon, self.mu)

    def pre_forward(self, module: nn.Module, input: tuple[Tensor, ...]) -> tuple[Tensor, ...] | None:
        if not all(isinstance(t, Tensor) and t.requires_grad for t in input):
            return None
        xs = Identity.apply(*input)  # a grad_fn of their own, whose hook turns the gradients into relevance
        self.stored_tensors["input"] = [(x, x._version) for x in xs]
        hook_ref = weakref.ref(self)

        def times_input(grad_inputs: tuple[Tensor, ...], _grad_outputs: tuple[Tensor, ...]) -> tuple[Tensor, ...] | None:
            hook = hook_ref()
            if hook is None or not hook.active:
                return None
            relevance = []
            for (x, version), grad in zip(hook.stored_tensors["input"], grad_inputs):
                _check(module, x, version)
                relevance.append(grad * (x if hook.mu is None else torch.where(x >= hook.mu, 1.0, -1.0).to(x)))
            return tuple(relevance)

        self.tensor_handles.append(xs[0].grad_fn.register_hook(times_input))
        return tuple(xs)

    def post_forward(self, module: nn.Module, input: tuple[Tensor, ...], output: Tensor) -> None:
        if output.grad_fn is None:
            return
        version, hook_ref = output._version, weakref.ref(self)

        def divide(grad_outputs: tuple[Tensor, ...]) -> tuple[Tensor, ...] | None:
            hook = hook_ref()
            if hook is None or not hook.active:
                return None
            z = output.detach()
            if output._version != version:  # changed in place (a ReLU after a residual sum): run the layer again
                inputs = hook.stored_tensors["input"]
                for x, x_version in inputs:
                    _check(module, x, x_version)
                with torch.no_grad():
                    z = module.forward(*(x for x, _ in inputs))
            return (_stabilize(z, hook.epsilon).reciprocal_().mul_(grad_outputs[0]), *grad_outputs[1:])

        self.tensor_handles.append(output.grad_fn.register_prehook(divide))


def _stabilize(z: Tensor, epsilon: float) -> Tensor:
    """zennit's ``Stabilizer(epsilon)``, ``z + epsilon * (sign(z) + (z == 0))``, in three passes instead of six."""
    return torch.where(z >= 0, epsilon, -epsilon).to(z.dtype).add_(z)


def _check(module: nn.Module, t: Tensor, version: int) -> None:
    if t._version != version:
        raise RuntimeError(f"lrp_epsilon_sign: a tensor of {type(module).__name__} was changed in place before the backward")


def _residual_forward(self: nn.Module, x: Tensor) -> Tensor:
    """timm BasicBlock/Bottleneck forward with the residual addition as an :class:`Add` module."""
    shortcut = self.downsample(x) if self.downsample is not None else x
    if isinstance(self, BasicBlock):
        out = self.aa(self.act1(self.drop_block(self.bn1(self.conv1(x)))))
        out = self.bn2(self.conv2(out))
    else:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.aa(self.act2(self.drop_block(self.bn2(self.conv2(out)))))
        out = self.bn3(self.conv3(out))
    out = self.canonizer_sum(shortcut, out)
    return (self.act2 if isinstance(self, BasicBlock) else self.act3)(out)


class Add(nn.Module):
    """The residual addition as a module, so a rule can apply to it (zennit's ``Sum`` takes one stacked
    tensor; stacking copies both summands)."""

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b


class TimmResNetCanonizer(AttributeCanonizer):
    """Gives timm's residual blocks an :class:`Add` module for their addition, so a rule can apply to it."""

    def __init__(self) -> None:
        super().__init__(self._attribute_map)

    @staticmethod
    def _attribute_map(name: str, module: nn.Module) -> dict | None:
        if isinstance(module, (BasicBlock, Bottleneck)):
            return {"forward": _residual_forward.__get__(module), "canonizer_sum": Add()}
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
    """Epsilon everywhere, SIGN-epsilon on the first convolution, BatchNorm merged, residual sums canonised.

    zennit's base layer map (``Norm`` on residual sums as :class:`Epsilon` with 1e-6) less its ``Pass`` rules for activations and (merged, identity) BatchNorm:
    in these ResNets every consumer of a ReLU's output multiplies its relevance by that output, so the
    relevance is already zero where the plain gradient would cut it, and passing it unchanged equals
    the plain gradient (the test against zennit's full map checks this); each ``Pass`` hook would copy
    its layer's input.
    """
    return SpecialFirstLayerMapComposite(
        layer_map=[(Add, Epsilon(1e-6)), (AvgPool, Norm()), (Convolution, Epsilon(epsilon)), (Linear, Epsilon(epsilon))],
        first_map=[(Convolution, Epsilon(epsilon, mu))],
        canonizers=[SequentialMergeBatchNorm(), TimmResNetCanonizer()],
    )


@register_method("lrp_epsilon_sign", needs=Needs(gradients=True))
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
        index = targets.long().view(-1, 1).to(inputs.device)
        _, relevance = attributor(inputs.detach().requires_grad_(True),
                                  lambda logits: torch.zeros_like(logits).scatter_(1, index, 1.0))
    return relevance.sum(1).float()
