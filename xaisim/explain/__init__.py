"""Explanation methods: each is one registered function

    fn(model, inputs, targets, **params) -> maps

with ``inputs`` a normalised batch (B, 3, H, W) on the model's device, ``targets`` the class
indices (B,), and ``maps`` a float32 tensor (B, h, w) of RAW attributions (signed, un-normalised)
at the method's native grid (GradCAM: the layer's grid after its ReLU; pixel methods: H x W).
Normalisation and resizing are the similarity stage's (``normalise``/``grid`` of a method entry).
"""

from xaisim.registry import Registry

METHODS: Registry = Registry("explanation method")
register_method = METHODS.register
get_method = METHODS.get


class Unsupported(Exception):
    """Raised by a method for a model it cannot explain (e.g. attention rollout on a CNN).

    The message is the reason, one line; the explain stage records it as a "not supported" outcome.
    """

from xaisim.explain import gradcam, gradient_similarity, integrated_gradients  # noqa: E402,F401  (registers methods)
