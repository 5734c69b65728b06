"""Batched GradCAM for timm models with pytorch-grad-cam semantics.

For the chosen layer with activations ``A`` (channels ``c``) and ``dy_t/dA`` (``y_t`` the logit of
the target class): ``cam = ReLU(sum_c mean_xy(dy_t/dA_c) * A_c)`` at the layer's grid, raw.
pytorch-grad-cam's post-processing (min-max, half-pixel bilinear upsampling, min-max) is the
similarity stage's normalisation ``[minmax, resize, minmax]``.

The layer's output may be NCHW (CNNs), NHWC (timm Swin stages) or tokens ``(B, N, C)`` (ViT/DeiT);
:func:`activation_to_nchw` brings all three to NCHW.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated

import torch
from pydantic import Field
from torch import Tensor, nn

from xaisim.explain import Needs, register_method

Layer = int | str


def _pools_class_token(model: nn.Module) -> bool:
    """True for ViT-style models whose head reads only the class token (``global_pool="token"``)."""
    pool = getattr(model, "global_pool", None)
    return isinstance(pool, str) and pool == "token"


def _class_token_in_blocks(model: nn.Module) -> bool:
    """Class-token-pooled ViTs whose blocks carry the class token (not CaiT, where it joins late)."""
    return _pools_class_token(model) and not hasattr(model, "blocks_token_only")


def resolve_layer(
    model: nn.Module, layer: Layer = "auto", depth: float | None = None
) -> tuple[str, nn.Module, int | None]:
    """Resolve ``layer`` or ``depth`` to ``(module path, module, channel count or None)``.

    An int indexes timm's ``model.feature_info`` (its stages, or a ViT's blocks; -1 = deepest). A
    str is a dotted module path; its channel count is known only if the path (or its parent block)
    appears in ``feature_info``. ``"auto"`` is ``feature_info[-1]``; for ViTs whose class token
    runs through the blocks and feeds the head it is the last block's ``norm1`` (pytorch-grad-cam's
    documented choice: the last block's output tokens get no gradient from the class token).
    ``depth`` in (0, 1] picks entry ``ceil(depth * n) - 1`` of the ``n`` ``feature_info`` entries
    the same way (its block's ``norm1`` for such ViTs); it excludes ``layer``.
    """
    info = list(getattr(model, "feature_info", None) or [])
    modules = [entry["module"] for entry in info]
    if depth is not None:
        if layer != "auto":
            raise ValueError(f"layer={layer!r} and depth={depth} exclude each other; give one of them")
        if not 0 < depth <= 1:
            raise ValueError(f"depth must be in (0, 1], got {depth}")
    if layer == "auto" or depth is not None:
        if not info:
            raise ValueError(
                f"{type(model).__name__} has no feature_info, so layer='auto' and depth are undefined; "
                "pass layer as a dotted module path"
            )
        index = len(info) - 1 if depth is None else max(0, math.ceil(depth * len(info)) - 1)
        path = modules[index]
        if _class_token_in_blocks(model) and isinstance(getattr(model.get_submodule(path), "norm1", None), nn.Module):
            path += ".norm1"
        return path, model.get_submodule(path), info[index]["num_chs"]
    if isinstance(layer, int):
        if not -len(info) <= layer < len(info):
            raise ValueError(
                f"layer index {layer} is out of range: {type(model).__name__} has {len(info)} "
                f"feature_info entries {modules}; use an index in [-{len(info)}, {len(info) - 1}] "
                "or a dotted module path"
            )
        return modules[layer], model.get_submodule(modules[layer]), info[layer]["num_chs"]
    try:
        module = model.get_submodule(layer)
    except AttributeError:
        raise ValueError(
            f"unknown layer {layer!r} for {type(model).__name__}; set layer to 'auto', an index "
            f"into feature_info, or a dotted module path such as {modules}"
        ) from None
    num_chs = next((entry["num_chs"] for entry in info if entry["module"] == layer), None)
    return layer, module, num_chs


def activation_to_nchw(
    act: Tensor, model: nn.Module, num_chs: int | None, input_hw: tuple[int, int]
) -> Tensor:
    """Reshape a layer output (NCHW, NHWC or tokens ``(B, N, C)``) to NCHW.

    4-d outputs: the layout is the one whose channel axis has ``num_chs`` channels; without a
    channel count (module path outside ``feature_info``), the spatial axes are taken to be the pair
    whose aspect ratio is closest to the input's (NCHW on ties).
    3-d outputs are tokens: the model's ``num_prefix_tokens`` (class/distillation/register) are
    dropped when present (CaiT's blocks carry none: its class token joins late) and the rest
    reshaped to ``model.patch_embed.grid_size``, or a square grid.
    """
    if act.ndim == 4:
        if num_chs is None:
            aspect = math.log(input_hw[0] / input_hw[1])
            nchw_off = abs(math.log(act.shape[2] / act.shape[3]) - aspect)
            nhwc_off = abs(math.log(act.shape[1] / act.shape[2]) - aspect)
            channels_last = nhwc_off < nchw_off
        elif act.shape[1] == num_chs:
            channels_last = False
        elif act.shape[3] == num_chs:
            channels_last = True
        else:
            raise ValueError(f"activation {tuple(act.shape)} has no axis with {num_chs} channels")
        return act.permute(0, 3, 1, 2) if channels_last else act
    if act.ndim == 3:
        if num_chs is not None and act.shape[2] != num_chs:
            raise ValueError(f"token activation {tuple(act.shape)} does not end in {num_chs} channels")
        grid = tuple(getattr(getattr(model, "patch_embed", None), "grid_size", None) or ())
        prefix = getattr(model, "num_prefix_tokens", 0)
        if len(grid) == 2 and act.shape[1] == grid[0] * grid[1]:
            prefix = 0
        tokens = act[:, prefix:]
        if len(grid) != 2 or grid[0] * grid[1] != tokens.shape[1]:
            side = math.isqrt(tokens.shape[1])
            if side * side != tokens.shape[1]:
                raise ValueError(f"cannot arrange {tokens.shape[1]} patch tokens on a grid")
            grid = (side, side)
        return tokens.reshape(act.shape[0], *grid, act.shape[2]).permute(0, 3, 1, 2)
    raise ValueError(f"unsupported activation shape {tuple(act.shape)}")


def layer_activations_and_gradients(
    model: nn.Module, inputs: Tensor, targets: Tensor, module: nn.Module
) -> tuple[Tensor, Tensor]:
    """Output of ``module`` and the gradient of the summed target logits w.r.t. it (raw layout).

    One batched forward and the backward from the logits to the layer only: the layers before it run
    without autograd (a forward hook switches gradients on and hands the rest of the model a
    grad-requiring copy of the layer's output), so no graph is kept for them. Gradients are taken
    only w.r.t. that output, so no parameter ``.grad`` is touched; the hook is always removed and the
    caller's grad mode restored. Works inside ``torch.no_grad()``.
    """
    captured: list[Tensor] = []

    def hook(_mod: nn.Module, _args: object, output: object) -> object:
        if not isinstance(output, Tensor) or captured:
            captured.append(output)
            return None
        torch.set_grad_enabled(True)  # for the rest of the forward; restored below
        captured.append(output.detach().requires_grad_(True))
        return captured[0].clone()  # later in-place ops must not touch the leaf

    handle = module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            logits = model(inputs.detach())
            score = logits.gather(1, targets.to(logits.device).long().view(-1, 1)).sum()
    finally:
        handle.remove()
    if len(captured) != 1 or not isinstance(captured[0], Tensor):
        raise RuntimeError(
            f"layer must produce one tensor per forward pass, got {len(captured)} outputs "
            f"of types {[type(c).__name__ for c in captured]}"
        )
    act = captured[0]
    if not score.requires_grad:  # the logits do not depend on the layer
        return act.detach(), torch.zeros_like(act)
    (grad,) = torch.autograd.grad(score, act, allow_unused=True, materialize_grads=True)
    return act.detach(), grad


def cell_mask(cells: Sequence[Sequence[int]], h: int, w: int, device: torch.device | str = "cpu") -> Tensor:
    """The (h, w) mask of ``(row, column)`` cells (negative: from the end); ValueError for a cell
    outside the grid or cells that cover all of it."""
    mask = torch.zeros(h, w, dtype=torch.bool, device=device)
    for row, col in cells:
        if not (-h <= row < h and -w <= col < w):
            raise ValueError(f"fill_cells entry {[row, col]} lies outside the layer's {h}x{w} grid")
        mask[row, col] = True
    if mask.all():
        raise ValueError(f"fill_cells covers all {h}x{w} cells; leave at least one")
    return mask


def fill_with_mean(t: Tensor, cells: Sequence[Sequence[int]]) -> Tensor:
    """``t`` (B, C, h, w) with the given ``(row, column)`` cells replaced by the mean of the others."""
    mask = cell_mask(cells, *t.shape[-2:], device=t.device)
    mean = t[..., ~mask].mean(-1)
    return torch.where(mask, mean[..., None, None], t)


def gradcam_native(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    layer: Layer = "auto",
    depth: float | None = None,
    fill_cells: Sequence[Sequence[int]] = (),
) -> Tensor:
    """Un-normalised GradCAM ``ReLU(sum_c w_c A_c)`` at the layer's resolution: (B, h, w) float32.

    ``fill_cells`` replaces those cells of the activation and the gradient by the mean of the other
    cells before weighting (the thesis' fix of EfficientNet-B4's artefact at row 0, column 6).
    """
    _, module, num_chs = resolve_layer(model, layer, depth)
    act, grad = layer_activations_and_gradients(model, inputs, targets, module)
    hw = (inputs.shape[-2], inputs.shape[-1])
    act = activation_to_nchw(act, model, num_chs, hw).float()
    grad = activation_to_nchw(grad, model, num_chs, hw).float()
    if fill_cells:
        act, grad = fill_with_mean(act, fill_cells), fill_with_mean(grad, fill_cells)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    return torch.relu((weights * act).sum(dim=1))


def _validate(params: dict) -> None:
    """``layer`` and ``depth`` exclude each other (a cross-field rule a type cannot express)."""
    if params.get("depth") is not None and params.get("layer", "auto") != "auto":
        raise ValueError(f"layer={params['layer']!r} and depth={params['depth']} exclude each other; give one of them")


def _check_model(params: dict, model: dict, config: dict) -> tuple[int, int] | None:
    """On the network built without weights (:func:`xaisim.models.meta_network`): the layer (or depth)
    resolves and ``fill_cells`` lie inside its grid at the model's input size; the grid."""
    if model.get("sklearn"):
        return None  # no layers: recorded as not supported when explained
    from xaisim.models import build_spec, input_size, meta_network, probe

    spec = build_spec(model)
    net = meta_network(spec)
    path, _, num_chs = resolve_layer(net, params.get("layer", "auto"), params.get("depth"))
    size = input_size(spec, config["data"]["image_size"])
    _, shape = probe(spec, config["data"]["image_size"], (path,))
    h, w = activation_to_nchw(torch.empty(shape, device="meta"), net, num_chs, (size, size)).shape[-2:]
    if params.get("fill_cells"):
        cell_mask(params["fill_cells"], h, w)
    return int(h), int(w)


@register_method("gradcam", needs=Needs(gradients=True), validate=_validate, check_model=_check_model)
def gradcam(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    *,
    layer: Layer = "auto",
    depth: Annotated[float, Field(gt=0, le=1)] | None = None,
    fill_cells: list[tuple[int, int]] = [],  # noqa: B006 (never mutated; a list for YAML)
) -> Tensor:
    """Raw GradCAM maps (B, h, w) at the layer's grid; see :func:`resolve_layer` for ``layer``/``depth``
    and :func:`gradcam_native` for ``fill_cells``."""
    return gradcam_native(model, inputs, targets, layer, depth, fill_cells)
