import numpy as np
import timm
import torch
from captum.attr import IntegratedGradients

from xaisim.explain import get_method


def _model():
    torch.manual_seed(0)
    return timm.create_model("resnet10t", num_classes=5).eval()


def test_matches_captum_before_post_processing_and_is_normalised():
    model, x = _model(), torch.randn(3, 3, 24, 24)
    targets = torch.tensor([0, 3, 4])
    ig = get_method("integrated_gradients")
    maps = ig(model, x, targets, n_steps=16, clip_percentiles=(0.0, 100.0))
    ref = IntegratedGradients(model).attribute(x, baselines=torch.zeros_like(x), target=targets, n_steps=16).sum(1)
    ref = ref / ref.abs().amax(dim=(1, 2), keepdim=True)
    assert maps.shape == (3, 24, 24)
    torch.testing.assert_close(maps, ref.float(), atol=1e-5, rtol=1e-4)


def test_percentile_clip_and_absolute_values():
    model, x = _model(), torch.randn(2, 3, 24, 24)
    targets = torch.tensor([1, 2])
    ig = get_method("integrated_gradients")
    clipped = ig(model, x, targets, n_steps=8, clip_percentiles=(5.0, 95.0))
    assert clipped.abs().amax(dim=(1, 2)).allclose(torch.ones(2))
    for m in clipped:  # ~5 % of pixels sit at each clip bound
        assert (m == m.min()).float().mean() >= 0.04 and (m == m.max()).float().mean() >= 0.04
    absolute = ig(model, x, targets, n_steps=8, absolute=True)
    assert (absolute >= 0).all() and absolute.amax(dim=(1, 2)).allclose(torch.ones(2))


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
