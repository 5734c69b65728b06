"""Per-sample loss gradients w.r.t. a model's parameters, batched, and their seeded sparse random
projection.

``per_sample_gradients`` gives, for every sample ``i``, the flattened gradient of
``cross_entropy(model(x_i), y_i)`` w.r.t. the chosen parameters (the same vector alibi's loop gets
from ``zero_grad``/``backward`` on a batch of one, in eval mode); ``gradient_blocks`` gives it one
parameter at a time, so that a consumer (the kernels) never holds a batch's whole (B, P) gradients.

- By default: ``vmap(grad(loss))`` over ``functional_call`` (torch.func), one batched pass.
- When most chosen parameters are weights of dense convolutions (``nn.Conv2d``, one group, a
  kernel larger than 1x1; e.g. ResNets): torch.func turns a convolution's weight gradient into a
  grouped convolution with one group per sample, which on a CPU costs about as much as alibi's
  loop. Then the weights and biases of every ``nn.Linear`` and ``nn.Conv2d`` layer come from one
  ordinary batched forward and backward (summed loss; in eval mode the samples do not interact)
  that records each layer's input and output gradient: the per-sample weight gradient is their
  product (for a convolution, of the output gradient and the unfolded input), as Opacus and
  PyTorch's ExpandedWeights compute it. The other parameters (norm layers, tokens; few values)
  still come from ``vmap(grad)``, w.r.t. those parameters only.

No ``.grad`` of the model is touched.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

ALIASES = ("@classifier", "@last_stage")


def resolve_prefix(model: nn.Module, prefix: str) -> str:
    """A module path, or an alias: ``@classifier`` (timm's ``pretrained_cfg["classifier"]``, e.g.
    ``fc``, ``head``, ``head.fc``) or ``@last_stage`` (the module of timm's last ``feature_info``
    entry, e.g. ``layer4``, ``stages.3``, ``blocks.5``), so one entry fits every architecture."""
    if prefix == "@classifier":
        found = (getattr(model, "pretrained_cfg", None) or {}).get("classifier")
    elif prefix == "@last_stage":
        info = list(getattr(model, "feature_info", None) or [])
        found = info[-1]["module"] if info else None
    else:
        return prefix
    if not found:
        raise ValueError(f"no module for {prefix!r} ({type(model).__name__} has no timm metadata for it)")
    return found


def select_parameters(model: nn.Module, prefixes: Sequence[str]) -> list[str]:
    """Names of the parameters under the module paths (or aliases, :func:`resolve_prefix`)
    ``prefixes``, in model order; all parameters if empty.

    Raises ValueError naming an unknown prefix and the model's top-level modules.
    """
    names = [n for n, p in model.named_parameters()]
    if not prefixes:
        return names
    chosen: set[str] = set()
    for prefix in prefixes:
        path = resolve_prefix(model, prefix)
        under = [n for n in names if n == path or n.startswith(path + ".")]
        if not under:
            tops = sorted({n.split(".")[0] for n in names})
            raise ValueError(f"no parameters under {prefix!r}; module prefixes of this model: {tops}")
        chosen.update(under)
    return [n for n in names if n in chosen]


def parameter_count(model: nn.Module, names: Sequence[str]) -> int:
    params = dict(model.named_parameters())
    return sum(params[n].numel() for n in names)


def per_sample_gradients(model: nn.Module, names: Sequence[str], x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Flattened per-sample gradients (B, P) of the cross-entropy loss w.r.t. parameters ``names``
    (in that order) and the logits (B, K). ``model`` should be in eval mode."""
    blocks, logits = gradient_blocks(model, names, x, y)
    out = torch.empty(len(x), parameter_count(model, names), dtype=x.dtype, device=x.device)
    for offset, g in blocks:
        out[:, offset : offset + g.shape[1]] = g
    return out, logits


def gradient_blocks(model: nn.Module, names: Sequence[str], x: Tensor, y: Tensor) -> tuple[Iterator[tuple[int, Tensor]], Tensor]:
    """The per-sample gradients of :func:`per_sample_gradients` one parameter at a time, as
    (offset in the flattened vector, (B, size) gradients), made as they are consumed (a layer's
    per-sample weight gradients are freed before the next layer's are made), and the logits."""
    layers = _product_layers(model, names)
    others = [n for n in names if n.rpartition(".")[0] not in layers]
    offsets, at = {}, 0
    params = dict(model.named_parameters())
    for n in names:
        offsets[n], at = at, at + params[n].numel()
    calls, logits = _layer_pass(model, layers, x, y) if layers else ({}, None)
    rest: dict[str, Tensor] = {}
    if others or logits is None:
        rest, logits = _vmap_gradients(model, others, x, y)

    def blocks() -> Iterator[tuple[int, Tensor]]:
        for n in others:
            yield offsets[n], rest.pop(n).reshape(len(x), -1)
        for path, pairs in calls.items():
            module = layers[path]
            parts = None
            for a, got in pairs:
                g = got[0] if got else torch.zeros(len(a), *_out_shape(module, a), dtype=a.dtype, device=a.device)
                new = _linear_parts(a, g) if isinstance(module, nn.Linear) else _conv_parts(module, a, g)
                parts = new if parts is None else tuple(p + q for p, q in zip(parts, new))
            for kind, value in zip(("weight", "bias"), parts):
                if f"{path}.{kind}" in offsets:
                    yield offsets[f"{path}.{kind}"], value.reshape(len(x), -1)

    return blocks(), logits


DENSE_CONV_SHARE = 0.5  # the share of chosen parameters in dense convolutions above which layers take the batched path


def _product_layers(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """The ``nn.Linear`` and ``nn.Conv2d`` layers (exact types, zero padding given as numbers)
    holding chosen parameters that no other module shares, by module path; none unless dense
    convolutions hold more than :data:`DENSE_CONV_SHARE` of the chosen parameters."""
    chosen = set(names)
    uses: dict[int, int] = {}
    for _, p in model.named_parameters(remove_duplicate=False):
        uses[id(p)] = uses.get(id(p), 0) + 1
    layers = {}
    for path, module in model.named_modules():
        own = dict(module.named_parameters(recurse=False))
        if not own or not {f"{path}.{k}" for k in own} & chosen or any(uses[id(p)] > 1 for p in own.values()):
            continue
        conv_ok = type(module) is nn.Conv2d and module.padding_mode == "zeros" and not isinstance(module.padding, str)
        if type(module) is nn.Linear or conv_ok:
            layers[path] = module
    params = dict(model.named_parameters())
    dense = sum(m.weight.numel() for path, m in layers.items()
                if isinstance(m, nn.Conv2d) and m.groups == 1 and m.weight[0, 0].numel() > 1 and f"{path}.weight" in chosen)
    return layers if dense > DENSE_CONV_SHARE * sum(params[n].numel() for n in names) else {}


def _layer_pass(model: nn.Module, layers: dict[str, nn.Module], x: Tensor, y: Tensor) -> tuple[dict[str, list], Tensor]:
    """One batched forward and backward: per layer, the (input, [output gradient]) of each call, and the logits.

    A layer's output gradient is taken by a tensor hook registered when the output is made, so an
    in-place operation on the output afterwards (``ReLU(inplace=True)``) does not change it.
    """
    calls: dict[str, list[tuple[Tensor, list[Tensor]]]] = {path: [] for path in layers}

    def keep(path: str):
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            got: list[Tensor] = []
            calls[path].append((inputs[0].detach(), got))
            output.register_hook(got.append)
        return hook

    weights = [module.weight for module in layers.values()]
    trainable = [w.requires_grad for w in weights]
    handles = [module.register_forward_hook(keep(path)) for path, module in layers.items()]
    try:
        for w in weights:
            w.requires_grad_(True)
        with torch.enable_grad():
            logits = model(x)
            # driving the backward to the layers' weights runs every hook
            torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), weights, allow_unused=True)
    finally:
        for h in handles:
            h.remove()
        for w, flag in zip(weights, trainable):
            w.requires_grad_(flag)
    return calls, logits.detach()


def _out_shape(module: nn.Module, a: Tensor) -> torch.Size:
    with torch.no_grad():
        return module(a[:1]).shape[1:]


def _linear_parts(a: Tensor, g: Tensor) -> tuple[Tensor, Tensor]:
    """Per-sample (weight, bias) gradients of a linear layer with input ``a`` (B, ..., in) and output gradient ``g``."""
    a, g = a.reshape(len(a), -1, a.shape[-1]), g.reshape(len(g), -1, g.shape[-1])
    return torch.bmm(g.transpose(1, 2), a), g.sum(1)


def _conv_parts(conv: nn.Conv2d, a: Tensor, g: Tensor) -> tuple[Tensor, Tensor]:
    """Per-sample (weight, bias) gradients of a 2-d convolution: output gradient times the unfolded input."""
    b, groups = len(a), conv.groups
    cols = F.unfold(a, conv.kernel_size, dilation=conv.dilation, padding=conv.padding, stride=conv.stride)
    cols = cols.reshape(b, groups, -1, cols.shape[-1])  # (B, G, C/G kh kw, L)
    g = g.reshape(b, groups, -1, cols.shape[-1])  # (B, G, O/G, L)
    weight = torch.einsum("bgol,bgil->bgoi", g, cols).reshape(b, *conv.weight.shape)
    return weight, g.sum(-1).reshape(b, -1)


def _vmap_gradients(model: nn.Module, names: Sequence[str], x: Tensor, y: Tensor) -> tuple[dict[str, Tensor], Tensor]:
    """``vmap(grad(loss))`` over ``functional_call``: per-sample gradients of ``names`` and the logits."""
    params = dict(model.named_parameters())
    chosen = {n: params[n].detach() for n in names}
    fixed = {n: p.detach() for n, p in params.items() if n not in chosen}
    fixed.update(dict(model.named_buffers()))

    def loss(p: dict[str, Tensor], xi: Tensor, yi: Tensor) -> tuple[Tensor, Tensor]:
        logits = functional_call(model, {**fixed, **p}, (xi[None],))
        return F.cross_entropy(logits, yi[None]), logits[0]

    grads, logits = vmap(grad(loss, has_aux=True), in_dims=(None, 0, 0))(chosen, x, y)
    return grads, logits.detach()


class CountSketch:
    """A seeded sparse random projection R^P -> R^d (count sketch / feature hashing): coordinate
    ``j`` goes to bucket ``h(j)`` with sign ``s(j)``. Inner products are preserved in expectation,
    ``E<Sa, Sb> = <a, b>``, with variance about ``(|a|^2 |b|^2 + <a, b>^2) / d``; it costs O(P) per
    vector and 9 bytes per coordinate, where a dense Gaussian matrix would need 4 P d bytes."""

    def __init__(self, n_features: int, dim: int, seed: int, device: torch.device | str = "cpu") -> None:
        gen = torch.Generator().manual_seed(seed)
        self.dim = dim
        self.bucket = torch.randint(0, dim, (n_features,), generator=gen, dtype=torch.int64).to(device)
        self.sign = (torch.randint(0, 2, (n_features,), generator=gen, dtype=torch.int8) * 2 - 1).to(device)

    def __call__(self, g: Tensor) -> Tensor:
        return self.add(torch.zeros(g.shape[0], self.dim, dtype=g.dtype, device=g.device), g, 0)

    def add(self, out: Tensor, g: Tensor, offset: int) -> Tensor:
        """``out += sketch`` of the coordinates ``offset:offset + g.shape[1]`` given by ``g`` (B, n)."""
        cols = slice(offset, offset + g.shape[1])
        return out.index_add_(1, self.bucket[cols], g * self.sign[cols].to(g.dtype))
