"""Per-sample loss gradients w.r.t. a model's parameters, batched with torch.func, and their
seeded sparse random projection.

``per_sample_gradients`` is ``vmap(grad(loss))`` over ``functional_call``: one batched pass
gives, for every sample ``i``, the flattened gradient of ``cross_entropy(model(x_i), y_i)``
w.r.t. the chosen parameters (the same vector alibi's loop gets from ``zero_grad``/``backward``
on a batch of one, in eval mode). No ``.grad`` of the model is touched.
"""

from __future__ import annotations

from typing import Sequence

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
    params = dict(model.named_parameters())
    chosen = {n: params[n].detach() for n in names}
    fixed = {n: p.detach() for n, p in params.items() if n not in chosen}
    fixed.update(dict(model.named_buffers()))

    def loss(p: dict[str, Tensor], xi: Tensor, yi: Tensor) -> tuple[Tensor, Tensor]:
        logits = functional_call(model, {**fixed, **p}, (xi[None],))
        return F.cross_entropy(logits, yi[None]), logits[0]

    grads, logits = vmap(grad(loss, has_aux=True), in_dims=(None, 0, 0))(chosen, x, y)
    return torch.cat([grads[n].reshape(len(x), -1) for n in names], 1), logits.detach()


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
        out = torch.zeros(g.shape[0], self.dim, dtype=g.dtype, device=g.device)
        return out.index_add_(1, self.bucket, g * self.sign.to(g.dtype))
