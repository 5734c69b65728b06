import pytest
import timm
import torch
from captum.attr import IntegratedGradients

from xaisim.explain import get_method
from xaisim.explain.baselines import make_baseline, mean_std
from xaisim.explain.integrated_gradients import ig_attributions


def _model():
    torch.manual_seed(0)
    return timm.create_model("resnet10t", num_classes=5).eval()


@pytest.mark.parametrize("baseline", ["zero", "black", "blur", "noise"])
@pytest.mark.parametrize("integration", ["gausslegendre", "riemann_trapezoid"])
def test_raw_attributions_equal_captum_for_every_baseline(baseline, integration):
    model, x = _model(), torch.randn(3, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([0, 3, 4])
    mean, std = mean_std(model)
    base = make_baseline(x, baseline, mean=mean, std=std, blur_sigma=2.0, seed=5)
    ours = ig_attributions(model, x, targets, base, 10, integration, 7)  # passes mixing images and steps, the last partial
    ref = IntegratedGradients(model).attribute(x, baselines=base, target=targets, n_steps=10, method=integration)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


def test_raw_maps_completeness_and_no_parameter_gradients():
    model, x = _model(), torch.randn(2, 3, 24, 24)
    targets = torch.tensor([1, 2])
    out = get_method("integrated_gradients")(model, x, targets, 64, n_steps=64, baseline="black")
    mean, std = mean_std(model)
    base = make_baseline(x, "black", mean=mean, std=std)
    ref = IntegratedGradients(model).attribute(x, baselines=base, target=targets, n_steps=64, return_convergence_delta=True)
    assert out.maps.shape == (2, 24, 24) and out.maps.dtype == torch.float32
    assert (out.maps < 0).any(), "raw maps are signed and un-normalised"
    torch.testing.assert_close(out.maps, ref[0].sum(1), rtol=1e-4, atol=1e-4 * float(ref[0].sum(1).abs().max()))
    torch.testing.assert_close(out.extras["completeness"], ref[1].abs(), rtol=1e-3, atol=1e-4)
    assert all(p.grad is None for p in model.parameters())


def test_a_model_that_ignores_its_input_gives_zero_maps():
    class Constant(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = torch.nn.Parameter(torch.ones(4))

        def forward(self, x):
            return self.bias.expand(len(x), 4) + 0 * x.sum()

    out = get_method("integrated_gradients")(Constant(), torch.randn(2, 3, 8, 8), torch.tensor([0, 1]), 64, n_steps=4)
    assert torch.isfinite(out.maps).all() and (out.maps == 0).all() and (out.extras["completeness"] == 0).all()


def test_the_evaluation_budget_bounds_every_forward_pass():
    model, x, targets = _model(), torch.randn(3, 3, 16, 16), torch.tensor([0, 1, 2])
    sizes = []
    handle = model.register_forward_pre_hook(lambda _m, args: sizes.append(len(args[0])))
    try:
        for evals, passes in ((7, [6] * 5), (64, [30])):  # 10 steps of 3 images: 2 steps a pass, or all
            sizes.clear()
            get_method("integrated_gradients")(model, x, targets, evals, n_steps=10)
            assert sizes == passes + [6]  # and one pass for the inputs and baselines' logits
    finally:
        handle.remove()
