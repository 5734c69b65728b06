"""lrp_epsilon_sign equals zennit's own result (its torchvision ResNet canonizer) on the same weights."""

import pytest
import timm
import torch
import torchvision
from zennit.attribution import Gradient
from zennit.composites import SpecialFirstLayerMapComposite, layer_map_base
from zennit.rules import Epsilon
from zennit.torchvision import ResNetCanonizer
from zennit.types import Convolution, Linear

from xaisim.explain import Unsupported, get_method
from xaisim.explain.lrp import SignEpsilon


def _resnets():
    torch.manual_seed(0)
    ours = timm.create_model("resnet18", num_classes=5).eval()
    for m in ours.modules():  # non-trivial BatchNorm statistics, so merging them matters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    ref = torchvision.models.resnet18(num_classes=5).eval()
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def test_equals_zennit_on_torchvision_resnet_with_the_same_weights():
    ours, ref = _resnets()
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
