"""Attention rollout (Abnar & Zuidema 2020) for timm's ViT-style models, batched.

Each block's attention ``A`` (B, heads, N, N), captured at ``attn_drop`` with timm's fused
attention switched off for the pass, is fused over heads (``mean``/``max``/``min``); per image the
``discard_ratio`` fraction of smallest fused weights is set to zero (never the class token's
attention to itself, entry (0, 0)); then ``A' = (A + I) / 2`` renormalised to unit row sums, and the
rollout is ``A'_L ... A'_1``. The map is the rollout row of the token(s) the head reads (class
token; class and distillation tokens averaged; all patch tokens averaged for models without a class
token) over the patch tokens, reshaped to the patch grid: raw, at the token grid.

Models without timm's global ``Attention`` blocks (CNNs; Swin's windowed or CaiT's class
attention) raise :class:`~xaisim.explain.Unsupported`. Forward only: no gradients at all.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from timm.layers.attention import Attention
from torch import Tensor, nn

from xaisim.explain import Needs, Unsupported, register_method


def attention_maps(model: nn.Module, inputs: Tensor) -> list[Tensor]:
    """Every global attention block's softmax weights (B, heads, N, N), in forward order."""
    blocks = [m for m in model.modules() if isinstance(m, Attention)]
    if not blocks or not hasattr(model, "patch_embed"):
        raise Unsupported(f"attention_rollout needs a ViT-style model with global attention blocks; {type(model).__name__} has none")
    captured: list[Tensor] = []
    fused = [b.fused_attn for b in blocks]
    handles = [b.attn_drop.register_forward_hook(lambda _m, _a, out: captured.append(out.detach())) for b in blocks]
    try:
        for b in blocks:
            b.fused_attn = False
        with torch.no_grad():
            model(inputs)
    finally:
        for b, f in zip(blocks, fused):
            b.fused_attn = f
        for h in handles:
            h.remove()
    return captured


def rollout(attentions: list[Tensor], discard_ratio: float, head_fusion: str) -> Tensor:
    """The rollout product (B, N, N) of head-fused, thinned, identity-added, renormalised attentions."""
    result = None
    for attn in attentions:
        fused = getattr(attn.float(), head_fusion)(dim=1)
        if head_fusion != "mean":
            fused = fused.values
        batch, n, _ = fused.shape
        flat = fused.reshape(batch, -1)
        drop = int(flat.shape[1] * discard_ratio)
        if drop:  # keep the largest n^2 - drop weights (a top-k of the few kept is much cheaper) and entry (0, 0)
            kept = flat.topk(flat.shape[1] - drop, dim=1).indices
            flat = torch.zeros_like(flat).scatter_(1, kept, flat.gather(1, kept))
            flat[:, 0] = fused.reshape(batch, -1)[:, 0]
        a = (flat.view(batch, n, n) + torch.eye(n, device=flat.device)) / 2
        a = a / a.sum(dim=-1, keepdim=True)
        result = a if result is None else a @ result
    return result


@register_method("attention_rollout", needs=Needs(gradients=False))
def attention_rollout(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    *,
    discard_ratio: Annotated[float, Field(ge=0, lt=1)] = 0.9,
    head_fusion: Literal["mean", "max", "min"] = "mean",
) -> Tensor:
    """Attention rollout maps (B, h, w) at the patch grid; class-agnostic (``targets`` unused)."""
    joint = rollout(attention_maps(model, inputs), discard_ratio, head_fusion)
    prefix = getattr(model, "num_prefix_tokens", 0)
    if getattr(model, "cls_token", None) is not None:
        rows = joint[:, : 2 if getattr(model, "dist_token", None) is not None else 1].mean(1)
    else:
        rows = joint[:, prefix:].mean(1)
    grid = tuple(model.patch_embed.grid_size)
    return rows[:, prefix:].reshape(len(inputs), *grid)
