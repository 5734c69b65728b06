import numpy as np
import timm
import torch
from captum.attr import IntegratedGradients

from xaisim.explain import get_method


def _model():
    torch.manual_seed(0)
    return timm.create_model("resnet10t", num_classes=5).eval()


def test_raw_maps_are_captums_channel_sum():
    model, x = _model(), torch.randn(3, 3, 24, 24)
    targets = torch.tensor([0, 3, 4])
    maps = get_method("integrated_gradients")(model, x, targets, n_steps=16)
    ref = IntegratedGradients(model).attribute(x, baselines=torch.zeros_like(x), target=targets, n_steps=16).sum(1)
    assert maps.shape == (3, 24, 24) and maps.dtype == torch.float32
    assert (maps < 0).any() and maps.abs().amax() > 1e-6, "raw maps are signed and un-normalised"
    torch.testing.assert_close(maps, ref.float(), atol=1e-6, rtol=1e-4)


def test_a_model_that_ignores_its_input_gives_zero_maps():
    class Constant(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = torch.nn.Parameter(torch.ones(4))

        def forward(self, x):
            return self.bias.expand(len(x), 4) + 0 * x.sum()

    maps = get_method("integrated_gradients")(Constant(), torch.randn(2, 3, 8, 8), torch.tensor([0, 1]), n_steps=4)
    assert torch.isfinite(maps).all() and (maps == 0).all()
    assert np.isfinite(maps.numpy()).all()
