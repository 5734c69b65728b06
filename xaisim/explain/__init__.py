"""Explanation methods: each is one registered function

    fn(model, inputs, targets, **params) -> maps

with ``inputs`` a normalised batch (B, 3, H, W) on the model's device, ``targets`` the class
indices (B,), and ``maps`` a float32 tensor (B, h, w) of RAW attributions (signed, un-normalised)
at the method's native grid (GradCAM: the layer's grid after its ReLU; pixel methods: H x W).
Normalisation and resizing are the similarity stage's (``normalise``/``grid`` of a method entry).
"""

from typing import NamedTuple

from torch import Tensor

from xaisim.registry import Registry

METHODS: Registry = Registry("explanation method")
register_method = METHODS.register
get_method = METHODS.get


class Unsupported(Exception):
    """Raised by a method for a model it cannot explain (e.g. attention rollout on a CNN).

    The message is the reason, one line; the explain stage records it as a "not supported" outcome.
    """


class Explanation(NamedTuple):
    """What a method returns when it has more than maps: ``maps`` (B, h, w) and ``extras``, named
    per-image arrays (B, ...) stored beside the maps (e.g. IG's ``completeness`` error)."""

    maps: Tensor
    extras: dict[str, Tensor]


def forward_only(fn):
    """Mark a method that needs no gradients (KernelSHAP, LIME, rollout): it may run under AMP."""
    fn.forward_only = True
    return fn

from xaisim.explain import gradcam, gradient_similarity, gradients, integrated_gradients, kernelshap, lime, lrp, rollout  # noqa: E402,F401  (registers methods)
