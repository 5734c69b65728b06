"""GradCAM: agreement with pytorch-grad-cam and captum, layer resolution, hygiene."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
import timm
import torch
from torch import Tensor, nn

from xaisim.explain import get_method
from xaisim.explain.gradcam import gradcam_native, resolve_layer
from xaisim.similarity import normalise
from xaisim.similarity.stream import prepare

pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam import GradCAM  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

NUM_CLASSES = 10
TARGETS = torch.tensor([1, 4, 7])

VIT = dict(img_size=32, patch_size=4, depth=2)
SWIN = dict(img_size=128, window_size=4, depths=(1, 1, 1, 1), embed_dim=24, num_heads=(1, 1, 1, 1))

# name -> (timm architecture, overrides, input (H, W), activation layout for pytorch-grad-cam)
MODELS: dict[str, tuple[str, dict, tuple[int, int], str]] = {
    "resnet18": ("resnet18", {}, (96, 96), "nchw"),
    "convnext_atto": ("convnext_atto", {}, (96, 96), "nchw"),
    "mobilenetv3_small": ("mobilenetv3_small_100", {}, (96, 96), "nchw"),
    "vit_token": ("vit_tiny_patch16_224", VIT, (32, 32), "tokens"),
    "vit_avg": ("vit_tiny_patch16_224", {**VIT, "global_pool": "avg", "class_token": False}, (32, 32), "tokens"),
    "vit_rect": ("vit_tiny_patch16_224", {**VIT, "img_size": (32, 48)}, (32, 48), "tokens"),
    "swin": ("swin_tiny_patch4_window7_224", SWIN, (128, 128), "nhwc"),
    "densenet": ("densenet121", dict(block_config=(1, 1, 1, 1)), (96, 96), "nchw"),
    "efficientnet": ("efficientnet_b0", {}, (64, 64), "nchw"),
    "deit_distilled": ("deit_tiny_distilled_patch16_224", VIT, (32, 32), "tokens"),
    "pvt_v2": ("pvt_v2_b0", {}, (64, 64), "nchw"),
    "vit_registers": ("vit_small_patch14_reg4_dinov2", {**VIT, "embed_dim": 64, "num_heads": 2}, (32, 32), "tokens"),
    "cait": ("cait_xxs24_224", {**VIT, "depth_token_only": 1}, (32, 32), "patch_tokens"),
}

_cache: dict[str, nn.Module] = {}
THESIS = normalise.parse(["minmax", "resize", "minmax"], "normalise")


def gradcam(model: nn.Module, x: Tensor, y: Tensor, **params) -> Tensor:
    """The registered (raw) GradCAM through the thesis' similarity-stage recipe, as pytorch-grad-cam returns it."""
    return prepare(get_method("gradcam")(model, x, y, **params), THESIS, tuple(x.shape[-2:]))


def make(key: str) -> nn.Module:
    """Random-init eval-mode model, built once per session with a fixed seed."""
    if key not in _cache:
        arch, overrides, _, _ = MODELS[key]
        torch.manual_seed(0)
        _cache[key] = timm.create_model(arch, pretrained=False, num_classes=NUM_CLASSES, **overrides).eval()
    return _cache[key]


def batch(key: str, n: int = 3) -> Tensor:
    torch.manual_seed(1)
    return torch.randn(n, 3, *MODELS[key][2])


def reshape_for(model: nn.Module, layout: str) -> Callable[[Tensor], Tensor] | None:
    """pytorch-grad-cam's documented reshape transforms: ViT tokens and Swin NHWC -> NCHW."""
    if layout == "nhwc":
        return lambda t: t.permute(0, 3, 1, 2)
    if layout in ("tokens", "patch_tokens"):  # CaiT's blocks hold patch tokens only

        def tokens(t: Tensor) -> Tensor:
            t = t[:, model.num_prefix_tokens if layout == "tokens" else 0 :]
            return t.reshape(t.shape[0], *model.patch_embed.grid_size, t.shape[2]).permute(0, 3, 1, 2)

        return tokens
    return None


def pgc_maps(model: nn.Module, layer_name: str, layout: str, x: Tensor, y: Tensor) -> np.ndarray:
    """pytorch-grad-cam on a copy (its loss.backward() fills parameter .grad)."""
    ref = copy.deepcopy(model)
    with GradCAM(ref, [ref.get_submodule(layer_name)], reshape_transform=reshape_for(ref, layout)) as cam:
        return cam(x, [ClassifierOutputTarget(int(c)) for c in y])


# torch bilinear (align_corners=False) and cv2.resize(INTER_LINEAR) both sample at half-pixel
# centres and clamp at the border, so for upsampling they agree to float rounding (~1e-6): the
# maps are compared at the full input resolution, exactly as pytorch-grad-cam returns them.
@pytest.mark.parametrize("key", list(MODELS))
def test_matches_pytorch_grad_cam(key: str) -> None:
    model, x = make(key), batch(key)
    name, _, _ = resolve_layer(model, "auto")
    ours = gradcam(model, x, TARGETS).numpy()
    ref = pgc_maps(model, name, MODELS[key][3], x, TARGETS)
    assert ref.shape == ours.shape
    assert (ref.reshape(len(ref), -1).max(1) > 0.99).sum() >= 2, "reference maps are degenerate"
    np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=0)


@pytest.mark.parametrize(("key", "layer"), [("resnet18", "layer3"), ("convnext_atto", -2), ("swin", -2)])
def test_matches_pytorch_grad_cam_other_layers(key: str, layer: int | str) -> None:
    model, x = make(key), batch(key)
    name, _, _ = resolve_layer(model, layer)
    ours = gradcam(model, x, TARGETS, layer=layer).numpy()
    np.testing.assert_allclose(ours, pgc_maps(model, name, MODELS[key][3], x, TARGETS), atol=1e-4, rtol=0)


def test_matches_captum_layer_gradcam() -> None:
    from captum.attr import LayerAttribution, LayerGradCam

    model, x = make("resnet18"), batch("resnet18")
    attr = LayerGradCam(model, model.layer4).attribute(x, target=TARGETS, relu_attributions=True)
    native = gradcam_native(model, x, TARGETS)
    torch.testing.assert_close(native, attr[:, 0].detach(), rtol=1e-4, atol=1e-8)

    up = LayerAttribution.interpolate(attr.detach(), x.shape[-2:], interpolate_mode="bilinear")[:, 0]
    up = up - up.amin(dim=(1, 2), keepdim=True)
    top = up.amax(dim=(1, 2), keepdim=True)
    up = up / torch.where(top > 0, top, 1.0)  # all-zero maps stay zero
    assert (top > 0).sum() >= 2
    torch.testing.assert_close(gradcam(model, x, TARGETS), up, rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    ("key", "native"),
    [("resnet18", (3, 3)), ("vit_token", (8, 8)), ("vit_rect", (8, 12)), ("swin", (4, 4))],
)
def test_shapes_range_and_native_size(key: str, native: tuple[int, int]) -> None:
    model, x = make(key), batch(key, 2)
    y = TARGETS[:2]
    assert gradcam_native(model, x, y).shape == (2, *native)
    torch.testing.assert_close(get_method("gradcam")(model, x, y), gradcam_native(model, x, y), rtol=0, atol=0)
    out = gradcam(model, x, y)
    assert out.shape == (2, *x.shape[-2:])
    assert out.dtype == torch.float32 and out.device == x.device
    assert torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    # Non-degenerate maps are stretched to span exactly [0, 1].
    for m in out:
        assert m.max() == 0 or (m.min() == 0 and m.max() == 1)


def test_non_square_cnn_input_matches_reference() -> None:
    model = make("resnet18")
    torch.manual_seed(2)
    x = torch.randn(3, 3, 128, 64)
    assert gradcam_native(model, x, TARGETS).shape == (3, 4, 2)
    np.testing.assert_allclose(
        gradcam(model, x, TARGETS).numpy(), pgc_maps(model, "layer4", "nchw", x, TARGETS), atol=1e-4, rtol=0
    )


def test_batched_equals_per_sample() -> None:
    model, x = make("convnext_atto"), batch("convnext_atto")
    together = gradcam(model, x, TARGETS)
    alone = torch.cat([gradcam(model, x[i : i + 1], TARGETS[i : i + 1]) for i in range(len(x))])
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-5)


def test_auto_layer() -> None:
    vit_token, vit_avg = make("vit_token"), make("vit_avg")
    # class token through the blocks: the last block's norm1 (pytorch-grad-cam's choice)
    assert resolve_layer(vit_token, "auto")[0] == "blocks.1.norm1"
    assert resolve_layer(make("deit_distilled"), "auto")[0] == "blocks.1.norm1"
    assert resolve_layer(make("cait"), "auto")[0] == "blocks.1"  # class token joins after the blocks
    assert resolve_layer(vit_avg, "auto")[0] == vit_avg.feature_info[-1]["module"] == "blocks.1"
    resnet = make("resnet18")
    assert resolve_layer(resnet, "auto") == ("layer4", resnet.layer4, 512)
    assert resolve_layer(make("swin"), "auto")[0] == "layers.3"


def test_string_layer_paths() -> None:
    model, x = make("resnet18"), batch("resnet18")
    name, module, num_chs = resolve_layer(model, "layer3")
    assert (name, module, num_chs) == ("layer3", model.layer3, 256)
    torch.testing.assert_close(gradcam(model, x, TARGETS, layer="layer3"), gradcam(model, x, TARGETS, layer=-2))
    # Paths outside feature_info have no known channel count; the layout is inferred from shapes.
    assert resolve_layer(model, "layer4.1")[2] is None
    torch.testing.assert_close(gradcam(model, x, TARGETS, layer="layer4.1"), gradcam(model, x, TARGETS))
    swin, xs = make("swin"), batch("swin")  # its last stage has one block: same output, NHWC
    torch.testing.assert_close(gradcam(swin, xs, TARGETS, layer="layers.3.blocks.0"), gradcam(swin, xs, TARGETS))


def test_unknown_layer_errors() -> None:
    model = make("resnet18")
    with pytest.raises(ValueError, match=r"unknown layer 'layer5'.*layer4"):
        resolve_layer(model, "layer5")
    with pytest.raises(ValueError, match=r"layer index 5 is out of range.*layer4"):
        gradcam(model, batch("resnet18", 1), TARGETS[:1], layer=5)
    with pytest.raises(ValueError, match="no feature_info"):
        resolve_layer(nn.Sequential(nn.Conv2d(3, 4, 3)), "auto")


def test_zero_gradient_gives_zeros() -> None:
    # The class-token ViT's last block: its patch tokens never reach the head.
    model, x = make("vit_token"), batch("vit_token")
    out = gradcam(model, x, TARGETS, layer=-1)
    assert torch.isfinite(out).all() and (out == 0).all()


def test_constant_map_gives_zeros() -> None:
    # 32 px -> 1x1 activation: the map is constant; upsampling noise must not be stretched to [0,1].
    model = make("resnet18")
    torch.manual_seed(3)
    x = torch.randn(3, 3, 32, 32)
    assert gradcam_native(model, x, TARGETS).shape == (3, 1, 1)
    out = gradcam(model, x, TARGETS)
    assert torch.isfinite(out).all() and (out == 0).all()


def assert_clean(model: nn.Module) -> None:
    assert all(p.grad is None for p in model.parameters())
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks


def test_no_grads_or_hooks_left() -> None:
    model, x = make("swin"), batch("swin")
    gradcam(model, x, TARGETS)
    assert_clean(model)
    with pytest.raises(RuntimeError):  # wrong channel count: fails inside the forward pass
        gradcam(model, torch.randn(1, 4, 128, 128), TARGETS[:1])
    assert_clean(model)


def test_no_grad_context_and_frozen_parameters() -> None:
    model, x = make("mobilenetv3_small"), batch("mobilenetv3_small")
    expected = gradcam(model, x, TARGETS)
    with torch.no_grad():
        torch.testing.assert_close(gradcam(model, x, TARGETS), expected)
    frozen = copy.deepcopy(model).requires_grad_(False)
    torch.testing.assert_close(gradcam(frozen, x, TARGETS), expected)
    assert expected.amax() == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    model, x = make("resnet18"), batch("resnet18")
    expected = gradcam(model, x, TARGETS)
    gpu = copy.deepcopy(model).cuda()
    out = gradcam(gpu, x.cuda(), TARGETS.cuda())
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), expected, rtol=0, atol=1e-3)



def test_depth_picks_increasing_depths() -> None:
    model, x = make("resnet18"), batch("resnet18", 2)
    paths = [resolve_layer(model, depth=d)[0] for d in (0.25, 0.5, 0.75, 1.0)]
    assert paths == ["layer1", "layer2", "layer3", "layer4"]
    grids = [gradcam_native(model, x, TARGETS[:2], depth=d).shape[-1] for d in (0.25, 0.5, 0.75, 1.0)]
    assert grids == sorted(grids, reverse=True) and len(set(grids)) == 4
    vit = make("vit_token")
    assert [resolve_layer(vit, depth=d)[0] for d in (0.5, 1.0)] == ["blocks.0.norm1", "blocks.1.norm1"]
    assert [resolve_layer(make("swin"), depth=d)[0] for d in (0.25, 0.5, 0.75, 1.0)] == [f"layers.{i}" for i in range(4)]
    with pytest.raises(ValueError, match="exclude each other"):
        resolve_layer(model, "layer3", depth=0.5)
    with pytest.raises(ValueError, match=r"depth must be in \(0, 1\]"):
        resolve_layer(model, depth=1.5)


def test_fill_cells_replaces_activation_and_gradient_cells_by_the_mean_of_the_others() -> None:
    from xaisim.explain.gradcam import layer_activations_and_gradients

    model, x = make("resnet18"), batch("resnet18", 2)
    act, grad = layer_activations_and_gradients(model, x, TARGETS[:2], model.layer4)
    mask = torch.zeros(act.shape[-2:], dtype=torch.bool)
    mask[0, 2] = True
    act = torch.where(mask, act[..., ~mask].mean(-1)[..., None, None], act)
    grad = torch.where(mask, grad[..., ~mask].mean(-1)[..., None, None], grad)
    ref = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * act).sum(1))
    torch.testing.assert_close(gradcam_native(model, x, TARGETS[:2], fill_cells=[(0, 2)]), ref, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="outside the layer's 3x3 grid"):
        gradcam_native(model, x, TARGETS[:2], fill_cells=[(0, 3)])
