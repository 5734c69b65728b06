"""attention_rollout against a direct product of attention matrices computed from the block weights."""

import pytest
import timm
import torch

from xaisim.explain import Unsupported, get_method

VIT = dict(img_size=32, patch_size=8, depth=2, embed_dim=32, num_heads=2)


def _direct_attentions(model, x):
    """Softmax(q k^T / sqrt(d)) of every block from its own qkv weights (no hooks, no timm flags)."""
    h = model.norm_pre(model._pos_embed(model.patch_embed(x)))
    out = []
    for blk in model.blocks:
        a = blk.attn
        qkv = a.qkv(blk.norm1(h)).reshape(len(x), h.shape[1], 3, a.num_heads, a.head_dim).permute(2, 0, 3, 1, 4)
        out.append(((qkv[0] * a.head_dim**-0.5) @ qkv[1].transpose(-2, -1)).softmax(-1))
        h = blk(h)
    return out


def _reference(attns, fusion, discard_ratio):
    n = attns[0].shape[-1]
    result = torch.eye(n).expand(attns[0].shape[0], n, n)
    for attn in attns:
        fused = {"mean": attn.mean(1), "max": attn.amax(1), "min": attn.amin(1)}[fusion]
        per_image = []
        for f in fused:
            f = f.clone()
            if discard_ratio:
                order = f.flatten().argsort()[: int(n * n * discard_ratio)]
                order = order[order != 0]
                f.view(-1)[order] = 0
            a = (f + torch.eye(n)) / 2
            per_image.append(a / a.sum(-1, keepdim=True))
        result = torch.stack(per_image) @ result
    return result


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard_ratio", [0.0, 0.5])
def test_equals_direct_product_on_a_two_block_vit(fusion, discard_ratio):
    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", num_classes=4, **VIT).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        ref = _reference(_direct_attentions(model, x), fusion, discard_ratio)[:, 0, 1:].reshape(3, 4, 4)
    maps = get_method("attention_rollout")(model, x, torch.zeros(3), discard_ratio=discard_ratio, head_fusion=fusion)
    torch.testing.assert_close(maps, ref, rtol=1e-4, atol=1e-6)
    assert all(b.attn.fused_attn == timm.layers.use_fused_attn() for b in model.blocks)  # flags restored


@pytest.mark.parametrize("arch", ["deit_tiny_distilled_patch16_224", "vit_small_patch14_reg4_dinov2"])
def test_prefix_token_models(arch):
    model = timm.create_model(arch, num_classes=4, **VIT).eval()
    maps = get_method("attention_rollout")(model, torch.randn(2, 3, 32, 32), torch.zeros(2), discard_ratio=0.0)
    assert maps.shape == (2, 4, 4) and torch.isfinite(maps).all() and (maps >= 0).all()
    assert (maps.flatten(1).sum(1) > 0).all()


def test_cnn_is_unsupported():
    with pytest.raises(Unsupported, match="ResNet has none"):
        get_method("attention_rollout")(timm.create_model("resnet10t", num_classes=2), torch.randn(1, 3, 32, 32), torch.zeros(1))
