"""Every registered map method, on a CNN and a ViT: no parameter .grad, finite maps, or Unsupported.
(Example-based methods need a reference set: tested in test_gradient_similarity.py.)"""

import pytest
import timm
import torch

from xaisim.explain import METHODS, Explanation, Unsupported

MODELS = {
    "cnn": ("resnet10t", {}),
    "vit": ("vit_tiny_patch16_224", dict(img_size=32, patch_size=8, depth=2, embed_dim=32, num_heads=2)),
}


@pytest.mark.parametrize("method", METHODS.names())
def test_no_parameter_gradients_and_finite_maps(method):
    supported = 0
    for arch, kwargs in MODELS.values():
        torch.manual_seed(0)
        model = timm.create_model(arch, num_classes=3, **kwargs).eval()
        try:
            budget = [64] if METHODS.info(method)["needs"].evals else []
            out = METHODS.get(method)(model, torch.randn(2, 3, 32, 32), torch.tensor([0, 2]), *budget)
        except Unsupported:
            continue
        supported += 1
        maps = out.maps if isinstance(out, Explanation) else out
        assert maps.ndim == 3 and len(maps) == 2 and torch.isfinite(maps).all()
        assert all(p.grad is None for p in model.parameters()), f"{method} filled parameter gradients"
    assert supported, f"{method} supports neither a CNN nor a ViT"
