"""Per-sample loss gradients w.r.t. a model's parameters, batched, and their seeded sparse random
projection.

``per_sample_gradients`` gives, for every sample ``i``, the flattened gradient of
``cross_entropy(model(x_i), y_i)`` w.r.t. the chosen parameters (the same vector alibi's loop gets
from ``zero_grad``/``backward`` on a batch of one, in eval mode); ``gradient_blocks`` gives it one
parameter at a time, so that a consumer (the kernels) never holds a batch's whole (B, P) gradients.

The loss is never differentiated in float32. The gradient w.r.t. the logits, ``softmax(z) -
onehot(y)``, is computed in float64 from the detached logits (:func:`logit_gradients`, the target
entry as ``-sum_{k != y} p_k``, which does not round to 0 where ``p_y`` rounds to 1 in float32) and
split into its norm ``s`` (float64) and its direction ``u``; the network back-propagates ``u``
(``Jᵀu``, float32 values of order one) and the gradient is ``s Jᵀu``. A confident model's
gradients thus neither vanish by float32 rounding nor underflow in the backward or in the float32
products of the kernels. Where ``s`` is below :data:`SATURATED` (float64's smallest normal number:
a logit margin of about 708 over every other class) the sample is **saturated**: its gradient is
taken as exactly 0.

:func:`plan` chooses, per model and parameter subset, how each parameter's gradients are made:

- From one ordinary batched forward and backward (summed loss; in eval mode the samples do not
  interact) that records each supported layer's input and output gradient (Linear, Conv2d, batch
  and layer norms, ConvNeXt's layer scale; :func:`_kind`): a linear map's per-sample weight
  gradient is their product (for a convolution, of the output gradient and the unfolded input), as
  Opacus and PyTorch's ExpandedWeights compute it; a norm's, the output gradient times the
  normalised input. Taken when it covers every chosen parameter (ResNets, MobileNets,
  EfficientNets, ConvNeXts), or, beside ``vmap`` for the rest, when dense convolutions hold most
  of them (torch.func turns a convolution's weight gradient into a grouped convolution with one
  group per sample, which on a CPU costs about as much as alibi's loop).
- Otherwise (e.g. a ViT's position embedding): ``vmap(grad(loss))`` over ``functional_call``.
- A Linear or one-group Conv2d weight whose gradients only enter inner products may stay
  unmaterialised (:class:`Factors`: inputs and output gradients, "ghost" inner products) where
  that is cheaper: late, small-grid layers and classifier heads.

No ``.grad`` of the model is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.graph import GradientEdge, get_gradient_edge
from torch.func import functional_call, grad, vmap

ALIASES = ("@classifier", "@last_stage")
SATURATED = torch.finfo(torch.float64).tiny  # |softmax(z) - onehot(y)| below this: saturated, gradient 0


def logit_gradients(logits: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """The cross-entropy's gradient w.r.t. the logits (..., K), ``softmax(z) - onehot(y)``, in float64
    from the detached logits, as its direction (..., K) and norm (...): the target entry is
    ``-sum_{k != y} p_k`` (``p_y - 1`` rounds to 0 long before the other probabilities underflow).
    Both are 0 where the norm is below :data:`SATURATED`."""
    z = logits.detach().double()
    target = torch.arange(z.shape[-1], device=z.device) == y[..., None]
    p = torch.softmax(z, -1).masked_fill(target, 0)
    g = torch.where(target, -p.sum(-1, keepdim=True), p)
    top = g.abs().amax(-1, keepdim=True)  # |g_y|: squares of tiny entries would underflow
    norm = top[..., 0] * torch.where(top > 0, g / top, 0).norm(dim=-1)
    saturated = norm < SATURATED
    return torch.where(saturated[..., None], 0, g / torch.where(saturated, 1, norm)[..., None]), norm.masked_fill(saturated, 0)


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


def per_sample_gradients(model: nn.Module, names: Sequence[str], x: Tensor, y: Tensor,
                         how: Plan | None = None) -> tuple[Tensor, Tensor]:
    """Flattened per-sample gradients (B, P) of the cross-entropy loss w.r.t. parameters ``names``
    (in that order) and the logits (B, K), made as ``how`` says (default :func:`plan`; ghost
    layers' factors materialised). ``model`` should be in eval mode."""
    blocks, logits, scale = gradient_blocks(model, names, x, y, how or plan(model, names, x[:1]))
    out = torch.empty(len(x), parameter_count(model, names), dtype=x.dtype, device=x.device)
    for offset, g in blocks:
        g = g.materialise() if isinstance(g, Factors) else g
        out[:, offset : offset + g.shape[1]] = (g * scale[:, None]).to(x.dtype)
    return out, logits


@dataclass
class Factors:
    """One layer's per-sample weight gradients ``g_i = sum_t d_it (x) a_it`` left unmaterialised:
    the inputs ``a`` (B, T, D_in) (unfolded patches for a convolution) and output gradients ``d``
    (B, T, D_out) over T positions or tokens. Inner products ("ghost" products),
    ``<g_i, h_j> = sum_{t,s} (d_it . e_js)(a_it . b_js)``, cost T S (D_in + D_out) per pair instead
    of D_in D_out per pair and T D_in D_out per sample."""

    a: Tensor
    d: Tensor

    @property
    def shape(self) -> tuple[int, int]:
        """(B, size) of the gradients these factors stand for."""
        return len(self.a), self.a.shape[2] * self.d.shape[2]

    @staticmethod
    def cat(parts: Sequence[Factors], dim: int) -> Factors:
        """Factors joined along samples (``dim`` 0) or positions (``dim`` 1: a layer called more than once)."""
        return Factors(torch.cat([f.a for f in parts], dim), torch.cat([f.d for f in parts], dim))

    def materialise(self) -> Tensor:
        return torch.bmm(self.d.transpose(1, 2), self.a).reshape(self.shape)

    def sq_norms(self) -> Tensor:
        """Squared norms (B,) float64."""
        return (torch.bmm(self.a, self.a.transpose(1, 2)) * torch.bmm(self.d, self.d.transpose(1, 2))).sum((1, 2)).double()

    def dots(self, other: Factors) -> Tensor:
        """Inner products (B, B') float64 with the gradients ``other`` stands for."""
        (n, t, i), (m, s, o) = self.a.shape, other.a.shape[:2] + other.d.shape[2:]
        aa = self.a.reshape(n * t, i) @ other.a.reshape(m * s, i).T
        dd = self.d.reshape(n * t, o) @ other.d.reshape(m * s, o).T
        return (aa * dd).reshape(n, t, m, s).sum((1, 3)).double()


@dataclass
class Plan:
    """How :func:`gradient_blocks` makes each chosen parameter's per-sample gradients: ``layers``
    (module path: module) from one batched forward and backward, the weights of those in ``ghost``
    left as :class:`Factors`, the parameters ``others`` from ``vmap(grad)``; ``size`` values per
    sample, ``shapes`` the (T, D_in, D_out) of the Linear and one-group Conv2d layers."""

    layers: dict[str, nn.Module]
    ghost: set[str]
    others: list[str]
    size: int
    shapes: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def floats(self) -> int:
        """Values per sample of the blocks made (ghost weights counted by their factors' size)."""
        return self.size + sum(t * (i + o) - i * o for path, (t, i, o) in self.shapes.items() if path in self.ghost)

    @property
    def path(self) -> str:
        """e.g. ``layers+ghost 3+vmap``: which ways it takes."""
        ways = (["layers"] if self.layers else []) + ([f"ghost {len(self.ghost)}"] if self.ghost else [])
        return "+".join(ways + (["vmap"] if self.others else []))


DENSE_CONV_SHARE = 0.5  # with parameters left to vmap: the share in dense convolutions above which layers take the batched path


def plan(model: nn.Module, names: Sequence[str], example: Tensor, pairs: float = 0.0, ghost: bool = True) -> Plan:
    """The cheapest way to the per-sample gradients of ``names`` for inputs like ``example`` (one
    image, run through the model once to measure each layer's positions T), when each sample's
    gradient enters ``pairs`` inner products on average (0: materialise every gradient).

    - The layers :func:`_kind` knows (exact types, parameters not shared) get their per-sample
      gradients from the inputs and output gradients of one ordinary batched forward and backward
      (in eval mode the samples do not interact): a linear map's weight gradient is the product of
      its output gradient and (unfolded) input, as in Opacus and PyTorch's ExpandedWeights; a
      norm's, the output gradient times the normalised input. torch.func instead turns a
      convolution's weight gradient into a grouped convolution with one group per sample, which
      on a CPU costs about as much as alibi's loop.
    - That pass is taken when no chosen parameter is left for ``vmap(grad)`` (the layer pass then
      costs one ordinary batched pass, which vmap costs at least) or when dense convolutions (one
      group, a kernel larger than 1x1) hold more than :data:`DENSE_CONV_SHARE` of the chosen
      parameters; otherwise everything comes from ``vmap(grad)``.
    - A Linear or dense (one-group) Conv2d weight stays unmaterialised (:class:`Factors`) where
      ``T^2 (D_in + D_out) * pairs < T D_in D_out + D_in D_out * pairs`` (ghost products cheaper than
      making and multiplying the gradient; ResNet18's last stage at 64 px, T = 4, every
      classifier head, T = 1).
    """
    chosen = set(names)
    uses: dict[int, int] = {}
    for _, p in model.named_parameters(remove_duplicate=False):
        uses[id(p)] = uses.get(id(p), 0) + 1
    layers = {}
    for path, module in model.named_modules():
        own = dict(module.named_parameters(recurse=False))
        if not own or not {_join(path, k) for k in own} & chosen or any(uses[id(p)] > 1 for p in own.values()):
            continue
        if _kind(module):
            layers[path] = module
    params = dict(model.named_parameters())
    covered = {_join(path, k) for path, m in layers.items() for k, _ in m.named_parameters(recurse=False)}
    others = [n for n in names if n not in covered]
    dense = sum(m.weight.numel() for path, m in layers.items()
                if _dense_conv(m) and _join(path, "weight") in chosen)
    size = sum(params[n].numel() for n in names)
    if others and dense <= DENSE_CONV_SHARE * size:
        return Plan({}, set(), list(names), size)
    shapes = {path: tio for path, tio in _positions(model, layers, example).items() if _join(path, "weight") in chosen}
    ghosts = {path for path, (t, i, o) in shapes.items() if ghost and pairs > 0 and t * t * (i + o) * pairs < t * i * o + i * o * pairs}
    return Plan(layers, ghosts, others, size, shapes)


def _join(path: str, name: str) -> str:
    """A parameter's name from its module's path (empty for the model itself) and its own name."""
    return f"{path}.{name}" if path else name


def _dense_conv(m: nn.Module) -> bool:
    return isinstance(m, nn.Conv2d) and m.groups == 1 and m.weight[0, 0].numel() > 1


def _kind(m: nn.Module) -> str | None:
    """How the layer pass gets a module's own parameters' per-sample gradients, if it can (exact
    types: a subclass may compute something else, e.g. attention's ``NonDynamicallyQuantizableLinear``
    is applied without being called):

    - ``linear``: ``nn.Linear``, timm's ``Linear``; ``conv``: ``nn.Conv2d`` with zero padding given as numbers;
    - ``batch_norm``: eval-mode ``nn.BatchNorm2d`` with running statistics; ``batch_norm_act``: timm's
      ``BatchNormAct2d`` alike (batch norm, then ``drop`` and ``act``);
    - ``layer_norm``: ``nn.LayerNorm``, timm's ``LayerNorm``; ``layer_norm_2d``: timm's ``LayerNorm2d`` (channels of NCHW);
    - ``layer_scale``: the ``gamma`` of timm's ``ConvNeXtBlock`` (``mlp`` output times gamma, then ``drop_path``);
    - ``tokens``: the class/register tokens and position embedding of timm's ``VisionTransformer``
      (tokens concatenated, then the embedding added, then ``pos_drop``; fixed image size).
    """
    from timm.layers import BatchNormAct2d, LayerNorm, LayerNorm2d, Linear
    from timm.models.convnext import ConvNeXtBlock
    from timm.models.vision_transformer import VisionTransformer

    t = type(m)
    if t in (nn.Linear, Linear):
        return "linear"
    if t is nn.Conv2d:
        return "conv" if m.padding_mode == "zeros" and not isinstance(m.padding, str) else None
    if t in (nn.BatchNorm2d, BatchNormAct2d):
        ok = not m.training and m.running_mean is not None and m.running_var is not None
        return None if not ok else "batch_norm" if t is nn.BatchNorm2d else "batch_norm_act"
    if t in (nn.LayerNorm, LayerNorm):
        return "layer_norm"
    if t is LayerNorm2d:
        return "layer_norm_2d"
    if t is ConvNeXtBlock and m.gamma is not None:
        return "layer_scale"
    if t is VisionTransformer and m.pos_embed is not None and not m.dynamic_img_size and not m.no_embed_class:
        return "tokens"
    return None


def _positions(model: nn.Module, layers: dict[str, nn.Module], example: Tensor) -> dict[str, tuple[int, int, int]]:
    """(T, D_in, D_out) of every Linear and one-group Conv2d in ``layers`` for one input ``example``."""
    found: dict[str, tuple[int, int, int]] = {}

    def keep(path: str):
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            if isinstance(module, nn.Conv2d):
                t, d_in = output.shape[2] * output.shape[3], module.weight[0].numel()
            else:
                t, d_in = inputs[0][0].numel() // inputs[0].shape[-1], inputs[0].shape[-1]
            found[path] = (found.get(path, (0,))[0] + t, d_in, module.weight.shape[0])
        return hook

    linear = {p: m for p, m in layers.items() if _kind(m) == "linear" or (_kind(m) == "conv" and m.groups == 1)}
    handles = [m.register_forward_hook(keep(p)) for p, m in linear.items()]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
    return found


def gradient_blocks(model: nn.Module, names: Sequence[str], x: Tensor, y: Tensor,
                    how: Plan) -> tuple[Iterator[tuple[int, Tensor | Factors]], Tensor, Tensor]:
    """The per-sample gradient directions ``Jᵀu`` (module doc) one parameter at a time, as (offset
    in the flattened vector, (B, size) gradients or the :class:`Factors` of a ghost layer's
    weight), made as they are consumed (a layer's per-sample weight gradients are freed before the
    next layer's are made); the logits; and the scales ``s`` (B,) float64 (0: saturated) that make
    them the gradients of :func:`per_sample_gradients`."""
    offsets, at = {}, 0
    params = dict(model.named_parameters())
    for n in names:
        offsets[n], at = at, at + params[n].numel()
    calls, logits, scale = _layer_pass(model, how.layers, x, y) if how.layers else ({}, None, None)
    rest: dict[str, Tensor] = {}
    if how.others or logits is None:
        rest, logits, scale = _vmap_gradients(model, how.others, x, y)

    def blocks() -> Iterator[tuple[int, Tensor | Factors]]:
        for n in how.others:
            yield offsets[n], rest.pop(n).reshape(len(x), -1)
        for path, pairs in calls.items():
            module = how.layers[path]
            parts = [_parts(module, a, got[0] if got else None, path in how.ghost) for a, got in pairs]
            pairs.clear()
            for k, (name, _) in enumerate(module.named_parameters(recurse=False)):
                if _join(path, name) not in offsets:
                    continue
                if isinstance(parts[0][k], Factors):
                    value = Factors.cat([p[k] for p in parts], 1)
                else:
                    value = parts[0][k]
                    for p in parts[1:]:
                        value = value + p[k]
                    value = value.reshape(len(x), -1)
                yield offsets[_join(path, name)], value

    return blocks(), logits, scale


def _layer_pass(model: nn.Module, layers: dict[str, nn.Module], x: Tensor, y: Tensor,
                via_input: bool = True) -> tuple[dict[str, list], Tensor, Tensor]:
    """One batched forward and backward of the logit gradients' directions (:func:`logit_gradients`):
    per layer, the (input, [output gradient]) of each call, the logits and the logit gradients' norms.

    The backward is driven to the layers' outputs (as they were made: an in-place operation on an
    output afterwards, e.g. ``ReLU(inplace=True)``, does not change what is taken) with every
    parameter frozen, so that it makes the output gradients the hooks take and no batch-summed
    weight gradient, and goes no further back than the first chosen layer (a parameter subset of
    late layers costs a partial backward). If a layer's output does not depend on the input (e.g.
    a learned query), the pass is run again with the layers' weights as the backward's targets.
    For a BatchNormAct2d, the gradient of the batch norm's output (the input of its ``act``).
    """
    calls: dict[str, list[tuple[Tensor, list[Tensor]]]] = {path: [] for path in layers}
    stash: dict[str, Tensor] = {}
    missed: list[str] = []
    targets: list[GradientEdge] = []

    def record(path: str, a: Tensor, out: Tensor) -> None:
        got: list[Tensor] = []
        calls[path].append((a.detach(), got))
        if out.requires_grad:
            out.register_hook(got.append)
            targets.append(get_gradient_edge(out))
        else:
            missed.append(path)

    def keep(path: str):
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            record(path, inputs[0], output)
        return hook

    def keep_input(path: str, permute: bool = False):
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor | None = None) -> None:
            z = inputs[0] if output is None else output  # a pre-hook's input, or a forward hook's output
            stash[path] = z.permute(0, 3, 1, 2) if permute else z
        return hook

    def keep_grad(path: str):
        def hook(module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
            record(path, stash.pop(path, inputs[0]), inputs[0])
        return hook

    handles = []
    for path, module in layers.items():
        kind = _kind(module)
        if kind == "batch_norm_act":  # the batch norm's output is the input of its act
            handles += [module.register_forward_pre_hook(keep_input(path)),
                        module.act.register_forward_pre_hook(keep_grad(path))]
        elif kind == "layer_scale":  # gamma multiplies the mlp's output; the product enters drop_path
            handles += [module.mlp.register_forward_hook(keep_input(path, permute=not module.use_conv_mlp)),
                        module.drop_path.register_forward_pre_hook(keep_grad(path))]
        elif kind == "tokens":  # the gradient of (tokens, patches) + position embedding is the tokens' and embedding's
            handles.append(module.pos_drop.register_forward_pre_hook(keep_grad(path)))
        else:
            handles.append(module.register_forward_hook(keep(path)))
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    weights = [p for module in layers.values() for p in module.parameters(recurse=False)]
    try:
        for p in params:
            p.requires_grad_(False)
        for w in [] if via_input else weights:
            w.requires_grad_(True)
        x = x.detach().requires_grad_(via_input)
        with torch.enable_grad():
            logits = model(x)
            direction, scale = logit_gradients(logits, y)
            if not missed:  # the backward to the targets runs every hook
                torch.autograd.grad(logits, targets if via_input else weights, direction.to(logits.dtype),
                                    allow_unused=True)
    finally:
        for h in handles:
            h.remove()
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
    if missed:
        if not via_input:
            raise RuntimeError(f"no gradient reaches the output of {missed[0]!r}")
        return _layer_pass(model, layers, x, y, via_input=False)
    return calls, logits.detach(), scale


def _parts(module: nn.Module, a: Tensor, g: Tensor | None, ghost: bool) -> tuple[Tensor | Factors, ...]:
    """Per-sample gradients of the module's own parameters (in their order) from one call with
    input ``a`` (for a layer scale: the scaled value) and output gradient ``g``."""
    kind = _kind(module)
    if g is None:  # the output did not reach the loss
        with torch.no_grad():
            g = torch.zeros_like(a if kind in ("batch_norm_act", "layer_scale", "tokens") else module(a))
    if kind == "tokens":  # g: (B, tokens + patches, D)
        prefix = {"cls_token": slice(0, int(module.cls_token is not None))}
        prefix["reg_token"] = slice(prefix["cls_token"].stop, module.num_prefix_tokens)
        return tuple(g[:, prefix[name]] if name in prefix else g for name, _ in module.named_parameters(recurse=False))
    if kind == "linear":
        a, g = a.reshape(len(a), -1, a.shape[-1]), g.reshape(len(g), -1, g.shape[-1])
        return (Factors(a, g) if ghost else torch.bmm(g.transpose(1, 2), a)), g.sum(1)
    if kind == "conv":
        return _conv_parts(module, a, g, ghost)
    if kind == "layer_scale":
        return ((g * a).sum((2, 3)),)
    if kind in ("batch_norm", "batch_norm_act"):
        xhat = (a - module.running_mean[:, None, None]) * torch.rsqrt(module.running_var + module.eps)[:, None, None]
        return (g * xhat).sum((2, 3)), g.sum((2, 3))
    if kind == "layer_norm_2d":
        a, g = a.permute(0, 2, 3, 1), g.permute(0, 2, 3, 1)
    shape = module.normalized_shape
    xhat = F.layer_norm(a, shape, eps=module.eps).reshape(len(a), -1, *shape)
    g = g.reshape(len(g), -1, *shape)
    return ((g * xhat).sum(1), g.sum(1))[: 1 + (module.bias is not None)]


def _conv_parts(conv: nn.Conv2d, a: Tensor, g: Tensor, ghost: bool) -> tuple[Tensor | Factors, Tensor]:
    """Per-sample (weight, bias) gradients of a 2-d convolution: output gradient times the unfolded
    input; for a depthwise convolution (one input and output channel per group), the correlation
    of each sample's input channel with its output gradient, one group per sample and channel (a
    CPU's depthwise kernel: ~50x faster than unfolding 7x7 patches)."""
    b, groups = len(a), conv.groups
    if groups == conv.in_channels == conv.out_channels and not ghost:
        (kh, kw), c = conv.kernel_size, conv.in_channels
        weight = F.conv2d(a.reshape(1, b * c, *a.shape[2:]), g.reshape(b * c, 1, *g.shape[2:]), padding=conv.padding,
                          stride=conv.dilation, dilation=conv.stride, groups=b * c)[0, :, :kh, :kw]
        return weight.reshape(b, *conv.weight.shape), g.sum((2, 3))
    if groups == 1 and not ghost and g.shape[2] * g.shape[3] >= 128 and conv.in_channels >= 8 and conv.kernel_size != (1, 1):
        return _offsets_weight(conv, a, g), g.sum((2, 3))
    if conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.padding == (0, 0):
        cols = a.flatten(2)  # pointwise: the patches are the input
    else:
        cols = F.unfold(a, conv.kernel_size, dilation=conv.dilation, padding=conv.padding, stride=conv.stride)
    if ghost:  # one group
        g = g.reshape(b, g.shape[1], -1)
        return Factors(cols.transpose(1, 2), g.transpose(1, 2)), g.sum(-1)
    cols = cols.reshape(b, groups, -1, cols.shape[-1])  # (B, G, C/G kh kw, L)
    g = g.reshape(b, groups, -1, cols.shape[-1])  # (B, G, O/G, L)
    weight = torch.einsum("bgol,bgil->bgoi", g, cols).reshape(b, *conv.weight.shape)
    return weight, g.sum(-1).reshape(b, -1)


def _offsets_weight(conv: nn.Conv2d, a: Tensor, g: Tensor) -> Tensor:
    """Per-sample weight gradients (B, O, C, kh, kw) of a one-group convolution, one batched product
    per kernel offset (output gradient times the input shifted by the offset): on a CPU 1.5-2.5x
    faster than unfolding the patches for grids of 128 positions or more and 8 input channels or
    more (ResNet18's first stage at 64 px: 43 against 73 ms for 80 images), slower below."""
    (kh, kw), (sh, sw), (dh, dw), (ph, pw) = conv.kernel_size, conv.stride, conv.dilation, conv.padding
    b, c, (ho, wo) = len(a), a.shape[1], g.shape[2:]
    padded = F.pad(a, (pw, pw, ph, ph))
    gg = g.reshape(b, g.shape[1], -1)
    out = torch.empty(b, g.shape[1], c, kh, kw, dtype=a.dtype, device=a.device)
    for i in range(kh):
        for j in range(kw):
            shifted = padded[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw]
            out[:, :, :, i, j] = torch.bmm(gg, shifted.reshape(b, c, -1).transpose(1, 2))
    return out


def _vmap_gradients(model: nn.Module, names: Sequence[str], x: Tensor,
                    y: Tensor) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """``vmap(grad)`` over ``functional_call`` of ``<logits, u>`` (``u`` the logit gradient's
    direction, :func:`logit_gradients`, held constant): per-sample gradient directions of ``names``,
    the logits and the logit gradients' norms."""
    params = dict(model.named_parameters())
    chosen = {n: params[n].detach() for n in names}
    fixed = {n: p.detach() for n, p in params.items() if n not in chosen}
    fixed.update(dict(model.named_buffers()))

    def surrogate(p: dict[str, Tensor], xi: Tensor, yi: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        logits = functional_call(model, {**fixed, **p}, (xi[None],))
        direction, scale = logit_gradients(logits, yi[None])
        return (logits * direction.to(logits.dtype)).sum(), (logits[0], scale[0])

    grads, (logits, scale) = vmap(grad(surrogate, has_aux=True), in_dims=(None, 0, 0))(chosen, x, y)
    return grads, logits.detach(), scale


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
