"""Map-based explanation methods: each is one registered function

    fn(model, inputs, targets, **params) -> maps              # Needs(..., evals=False)
    fn(model, inputs, targets, evals, **params) -> maps       # Needs(..., evals=True)

with ``inputs`` a normalised batch (B, 3, H, W) on the model's device, ``targets`` the class
indices (B,), ``evals`` the evaluation budget (:class:`~xaisim.contract.Needs`) and ``maps`` a
float32 tensor (B, h, w) of RAW attributions (signed, un-normalised) at the method's native grid
(GradCAM: the layer's grid after its ReLU; pixel methods: H x W), or an :class:`Explanation`.
Normalisation and resizing are the similarity stage's (``normalise``/``grid`` of a method entry).

A method registers with :func:`register_method`, declaring what it needs and its checks
(:mod:`xaisim.contract`); a model it cannot explain raises :class:`~xaisim.contract.Unsupported`.
"""

from typing import NamedTuple

from torch import Tensor

from xaisim.contract import Needs, Unsupported, registrar
from xaisim.registry import Registry

__all__ = ["METHODS", "Explanation", "Needs", "Unsupported", "get_method", "register_method"]

METHODS: Registry = Registry("explanation method")
get_method = METHODS.get
register_method = registrar(METHODS)  # register_method(name, *, needs, validate=None, check_model=None)


class Explanation(NamedTuple):
    """What a method returns when it has more than maps: ``maps`` (B, h, w) and ``extras``, named
    per-image arrays (B, ...) stored beside the maps (e.g. IG's ``completeness`` error)."""

    maps: Tensor
    extras: dict[str, Tensor]


from xaisim.explain import gradcam, gradients, integrated_gradients, kernelshap, lime, lrp, rollout  # noqa: E402,F401  (registers methods)
