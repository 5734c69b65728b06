"""Explanation methods: each is one registered function

    fn(model, inputs, targets, **params) -> maps

with ``inputs`` a normalised batch (B, 3, H, W) on the model's device, ``targets`` the class
indices (B,), and ``maps`` a float32 tensor (B, H, W) at the input resolution, post-processed the
way the method defines (GradCAM: ReLU + per-image min-max; IG: channel sum + percentile clip).
"""

from xaisim.registry import Registry

METHODS: Registry = Registry("explanation method")
register_method = METHODS.register
get_method = METHODS.get


class Unsupported(Exception):
    """Raised by a method for a model it cannot explain (e.g. attention rollout on a CNN).

    The message is the reason, one line; the explain stage records it as a "not supported" outcome.
    """

from xaisim.explain import gradcam, integrated_gradients  # noqa: E402,F401  (registers methods)
