"""saliency, gradient x input, gradient x SIGN against their definitions computed with autograd."""

import pytest
import timm
import torch

from xaisim.explain import METHODS, get_method


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return timm.create_model("resnet10t", num_classes=5).eval()


def _reference_gradients(model, x, targets):
    grads = []
    for xi, t in zip(x, targets):  # one image at a time, the logit itself (no batch sum)
        xi = xi[None].clone().requires_grad_(True)
        model(xi)[0, t].backward()
        grads.append(xi.grad[0])
    model.zero_grad(set_to_none=True)
    return torch.stack(grads)


def test_gradient_methods_equal_their_definitions(model):
    x, targets = torch.randn(3, 3, 32, 32), torch.tensor([0, 2, 4])
    g = _reference_gradients(model, x, targets)
    close = dict(rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(get_method("saliency")(model, x, targets), g.abs().max(1).values, **close)
    torch.testing.assert_close(get_method("gradient_x_input")(model, x, targets), (g * x).sum(1), **close)
    mu = 0.3
    sign = torch.where(x < mu, -torch.ones_like(x), torch.ones_like(x))
    torch.testing.assert_close(get_method("gradient_x_sign")(model, x, targets, mu=mu), (g * sign).sum(1), **close)
    assert all(p.grad is None for p in model.parameters())


def test_mu_is_validated():
    with pytest.raises(ValueError, match="mu"):
        METHODS.check_params("gradient_x_sign", {"mu": "high"}, "config methods[0].params")
    with pytest.raises(ValueError, match="mu"):
        METHODS.check_params("gradient_x_sign", {"mu": float("nan")}, "config methods[0].params")
