"""lrp_epsilon_sign equals zennit's own result (its Epsilon rule, torchvision ResNet canonizer) on the same weights."""

import pytest
import timm
import torch
import torchvision
from zennit.attribution import Gradient
from zennit.composites import SpecialFirstLayerMapComposite, layer_map_base
from zennit.core import BasicHook, Stabilizer
from zennit.rules import Epsilon, NoMod
from zennit.torchvision import ResNetCanonizer
from zennit.types import Convolution, Linear

from xaisim.explain import Unsupported, get_method


class SignEpsilon(BasicHook):
    """The SIGN input-layer rule in zennit's own form: epsilon with the input replaced by ``sign_mu(x)``."""

    def __init__(self, mu: float = 0.0, epsilon: float = 1e-6) -> None:
        stabilize = Stabilizer.ensure(epsilon)
        super().__init__(
            input_modifiers=[lambda input: input],
            param_modifiers=[NoMod()],
            output_modifiers=[lambda output: output],
            gradient_mapper=(lambda out_grad, outputs: out_grad / stabilize(outputs[0])),
            reducer=(lambda inputs, gradients: torch.where(inputs[0] >= mu, 1.0, -1.0).to(inputs[0]) * gradients[0]),
        )


def _resnets(block: str):
    """A timm ResNet and the torchvision ResNet of the same shape and weights (BasicBlock or Bottleneck)."""
    torch.manual_seed(0)
    if block == "basic":
        ours = timm.create_model("resnet18", num_classes=5).eval()
        ref = torchvision.models.resnet18(num_classes=5).eval()
    else:
        ours = timm.models.resnet.ResNet(timm.models.resnet.Bottleneck, [1, 1, 1, 1], num_classes=5).eval()
        ref = torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, [1, 1, 1, 1], num_classes=5).eval()
    for m in ours.modules():  # non-trivial BatchNorm statistics, so merging them matters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_equals_zennit_on_torchvision_resnet_with_the_same_weights(block):
    """Our epsilon hooks (no re-run of each layer) against zennit's Epsilon and its BasicHook SIGN rule."""
    ours, ref = _resnets(block)
    x, targets = torch.randn(3, 3, 64, 64), torch.tensor([0, 2, 4])
    maps = get_method("lrp_epsilon_sign")(ours, x, targets, epsilon=0.01, mu=0.1)
    composite = SpecialFirstLayerMapComposite(
        layer_map=[*layer_map_base(), (Convolution, Epsilon(0.01)), (Linear, Epsilon(0.01))],
        first_map=[(Convolution, SignEpsilon(0.1, 0.01))],
        canonizers=[ResNetCanonizer()],
    )
    with Gradient(ref, composite) as attributor:
        _, relevance = attributor(x, torch.eye(5)[targets])
    expected = relevance.sum(1)
    assert expected.abs().amax() > 0
    torch.testing.assert_close(maps, expected, rtol=1e-4, atol=1e-5 * float(expected.abs().amax()))
    assert all(p.grad is None for p in ours.parameters())
    # the SIGN threshold matters
    assert not torch.allclose(maps, get_method("lrp_epsilon_sign")(ours, x, targets, epsilon=0.01, mu=-5.0))


@pytest.mark.parametrize(("arch", "kwargs", "reason"), [
    ("vit_tiny_patch16_224", dict(img_size=32, patch_size=8, depth=1), "not VisionTransformer"),
    ("swin_tiny_patch4_window7_224", dict(img_size=64, window_size=4, depths=(1, 1, 1, 1), embed_dim=24,
                                          num_heads=(1, 1, 1, 1)), "not SwinTransformer"),
    ("seresnet18", {}, "squeeze-excitation"),
])
def test_unsupported_architectures_name_the_reason(arch, kwargs, reason):
    model = timm.create_model(arch, num_classes=3, **kwargs).eval()
    size = kwargs.get("img_size", 32)
    with pytest.raises(Unsupported, match=reason):
        get_method("lrp_epsilon_sign")(model, torch.randn(1, 3, size, size), torch.tensor([0]))
