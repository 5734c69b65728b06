"""Gradient similarity of explained images to reference training images, memory-bounded.

Kernels (alibi's GradientSimilarity, with a relative ``eps = 1e-7``), for an explained image's
gradient ``g`` and a training image's gradient ``h``:

- ``grad_dot``:      ``<g, h>``
- ``grad_cos``:      ``<g, h> / ((1 + eps) |g| |h|)``
- ``grad_asym_dot``: ``<g, h> / ((1 + eps) |h|^2)`` (normalised by the training sample only)

and 0 where a norm in the denominator is 0. alibi adds an absolute ``eps`` to the denominator,
which flattens every pair whose ``|g| |h|`` (``|h|^2``) is near or below 1e-7 towards 0 whatever
its angle (a confident model's images); the relative ``eps`` keeps the kernels invariant to the
gradients' scale and within 1e-7 of alibi's where the norms are of order one.

Each gradient is its scale ``s`` (float64) times its direction ``Jᵀu``
(:mod:`~xaisim.examples.gradients`): the products and norms below are those of the directions, and
the scales enter :func:`kernel_scores` in float64. A **saturated** image (``s = 0``: its logit
gradient underflows float64, :data:`~xaisim.examples.gradients.SATURATED`) has a zero gradient: an
explained one's scores are all 0 (the similarity stage's zero-map policy leaves it out), a
reference one's column is 0; both are counted (:class:`Result`).

Gradients come as blocks (:func:`~xaisim.examples.gradients.gradient_blocks`): a parameter's
(B, size) per-sample gradients, or, for a layer the plan leaves unmaterialised ("ghost" layers,
:func:`~xaisim.examples.gradients.plan`, with each gradient entering ``N R / (N + R) + 1`` inner
products), its inputs and output gradients (:class:`~xaisim.examples.gradients.Factors`), whose
inner products and norms are taken without making the gradient. Inner products: float32
products, float64 sums.

Memory: only ``memory_mb`` of gradient buffers (blocks; ghost layers counted by their factors'
size) are held at once. The explained images' blocks are kept in groups that fill half of it; the
reference blocks stream past each group in chunks that fill the other half (a group that cannot
hold every explained image costs another pass over the reference set; a group that holds them all
shares the first reference chunk's batched pass). The activations of one chunk's batched backward
come on top.
With ``projection_dim > 0`` every gradient is projected by a seeded count sketch
(:class:`~xaisim.examples.gradients.CountSketch`) first: one pass, (N + R) x d floats; the
projection needs materialised gradients, so no layer stays ghost (a count sketch of a sum of outer
products is not a function of the factors' sketches). The exact scores of a few explained images
(as many as a quarter of the budget holds, at most 4) are computed alongside from their full
gradients and the projection's error against them reported.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Literal, Sequence

import torch
from torch import Tensor, nn

from xaisim.examples.gradients import (
    CountSketch,
    Factors,
    Plan,
    gradient_blocks,
    parameter_count,
    plan,
    select_parameters,
)

log = logging.getLogger(__name__)

EPS = 1e-7
Kernel = Literal["grad_dot", "grad_cos", "grad_asym_dot"]


def kernel_scores(kernel: Kernel, dot: Tensor, sq_x: Tensor, sq_ref: Tensor, scale_x: Tensor | None = None,
                  scale_ref: Tensor | None = None) -> Tensor:
    """Scores (n, r) of a kernel (module doc) from the directions' ``dot = G_x @ G_ref.T`` and squared
    norms (n,), (r,), and the gradients' scales (n,), (r,) (default 1), all float64."""
    scale_x = torch.ones_like(sq_x) if scale_x is None else scale_x
    scale_ref = torch.ones_like(sq_ref) if scale_ref is None else scale_ref
    if kernel == "grad_dot":
        return scale_x[:, None] * dot * scale_ref[None, :]
    if kernel == "grad_cos":
        return _ratio(dot, sq_x.sqrt()[:, None] * sq_ref.sqrt()[None, :])  # the scales cancel
    if kernel == "grad_asym_dot":
        return _ratio(dot, sq_ref[None, :]) * (scale_x[:, None] / torch.where(scale_ref > 0, scale_ref, 1)[None, :])
    raise ValueError(f"unknown kernel {kernel!r}; use grad_dot, grad_cos or grad_asym_dot")


def _ratio(dot: Tensor, norms: Tensor) -> Tensor:
    """``dot / ((1 + EPS) norms)``, 0 where ``norms`` is 0."""
    return torch.where(norms > 0, dot / ((1 + EPS) * torch.where(norms > 0, norms, 1)), 0)


@dataclass
class Result:
    """Scores (N, R) of every explained image against every reference image, the gradients' squared
    norms, which images are saturated (module doc), and what made the scores."""

    scores: Tensor
    explained_sq_norms: Tensor
    reference_sq_norms: Tensor
    explained_saturated: Tensor
    reference_saturated: Tensor
    reference_preds: Tensor
    parameters: list[str]
    n_parameters: int
    meta: dict[str, Any] = field(default_factory=dict)


Blocks = list[tuple[int, "Tensor | Factors"]]


def _reference_products(blocks: Iterable[tuple[int, Tensor | Factors]], gx: Blocks | Tensor, full: Blocks | None,
                        sketch: CountSketch | None, n: int, b: int, device: torch.device) -> dict[str, Tensor]:
    """From a reference chunk's gradient blocks (:func:`~xaisim.examples.gradients.gradient_blocks`),
    parameter by parameter (the chunk's (B, P) gradients are never put together): the dot products
    with the explained gradients ``gx`` (the same blocks, or their sketch (N, d) with ``sketch``),
    the squared norms and the exact dot products with ``full`` (blocks); ``n`` explained and ``b``
    reference images. ``gx[k]`` is read after the k-th reference block is made (it may be filled
    alongside: :func:`_split_off`). float32 products, float64 sums."""
    dot = torch.zeros(n, b, dtype=torch.float64, device=device)
    sq = torch.zeros(b, dtype=torch.float64, device=device)
    exact = torch.zeros(0 if full is None else len(full[0][1]), b, dtype=torch.float64, device=device)
    sketched = torch.zeros(b, sketch.dim, dtype=gx.dtype, device=device) if sketch is not None else None
    for k, (offset, g) in enumerate(blocks):
        sq += _sq(g)
        if full is not None:
            exact += _dots(full[k][1], g)
        if sketched is not None:
            sketch.add(sketched, g, offset)
        else:
            dot += _dot(gx[k][1], g)
    if sketched is not None:
        dot = _dots(gx, sketched)
    return {"dot": dot.cpu(), "sq": sq.cpu(), "exact": exact.cpu()}


BLOCK = 2**16  # coordinates per float32 partial sum of a dot product (float64 across blocks)


def _dots(a: Tensor, b: Tensor) -> Tensor:
    """a (n, P) @ b (m, P).T in float64 from float32 products over blocks of :data:`BLOCK` coordinates
    (one float32 matmul over millions of coordinates loses about 1e-5 relative)."""
    out = torch.zeros(len(a), len(b), dtype=torch.float64, device=a.device)
    for start in range(0, a.shape[1], BLOCK):
        out += (a[:, start : start + BLOCK] @ b[:, start : start + BLOCK].T).double()
    return out


def _sq_norms(g: Tensor) -> Tensor:
    """Squared norms (B,) float64 of gradients (B, P), summed as :func:`_dots` sums (no (B, P) temporary)."""
    out = torch.zeros(len(g), dtype=torch.float64, device=g.device)
    for start in range(0, g.shape[1], BLOCK):
        out += g[:, start : start + BLOCK].square().sum(1).double()
    return out


def _sq(g: Tensor | Factors) -> Tensor:
    return g.sq_norms() if isinstance(g, Factors) else _sq_norms(g)


def _dot(a: Tensor | Factors, b: Tensor | Factors) -> Tensor:
    return a.dots(b) if isinstance(a, Factors) else _dots(a, b)


def _join(parts: list[Blocks]) -> Blocks:
    """Blocks of consecutive batches joined into the blocks of them all."""
    if len(parts) == 1:
        return parts[0]
    out: Blocks = []
    for items in zip(*parts):
        blocks = [g for _, g in items]
        if isinstance(blocks[0], Factors):
            out.append((items[0][0], Factors.cat(blocks, 0)))
        else:
            out.append((items[0][0], torch.cat(blocks)))
    return out


def _chunks(reference: Callable[[], Iterable[tuple[Tensor, Tensor]]], size: int,
            expected: int) -> Iterator[tuple[slice, Tensor, Tensor]]:
    """The reference batches in chunks of at most ``size``: (columns, images, targets)."""
    start = 0
    for xr, yr in reference():
        for sub in _rows(0, len(xr), size):
            yield slice(start + sub.start, start + sub.stop), xr[sub], yr[sub]
        start += len(xr)
    if start != expected:
        raise ValueError(f"the reference batches gave {start} images, expected {expected}")


def _reference_pass(model: nn.Module, names: Sequence[str], how: Plan, chunks: Iterable[tuple[slice, Tensor, Tensor]],
                    gx: Blocks | Tensor, full: Blocks | None, sketch: CountSketch | None, n: int,
                    device: torch.device) -> Iterator[tuple[slice, dict[str, Tensor], Tensor]]:
    """Per reference chunk: its columns, :func:`_reference_products` (with the gradients' ``scale``) and logits."""
    for cols, xr, yr in chunks:
        blocks, logits, scale = gradient_blocks(model, names, xr.to(device), yr.to(device), how)
        yield cols, {**_reference_products(blocks, gx, full, sketch, n, len(xr), device), "scale": scale.cpu()}, logits


def _split_off(blocks: Iterable[tuple[int, Tensor | Factors]], n: int, head: Blocks) -> Iterator[tuple[int, Tensor | Factors]]:
    """The blocks of a pass over explained then reference images: the first ``n`` rows of each
    appended to ``head`` (copies: a view would keep the reference rows alive), the rest yielded."""
    for offset, g in blocks:
        if isinstance(g, Factors):
            head.append((offset, Factors(g.a[:n].clone(), g.d[:n].clone())))
            yield offset, Factors(g.a[n:], g.d[n:])
        else:
            head.append((offset, g[:n].clone()))
            yield offset, g[n:]


def _sketched(sketch: CountSketch, blocks: Blocks, b: int, device: torch.device) -> Tensor:
    out = torch.zeros(b, sketch.dim, device=device)
    for offset, g in blocks:
        sketch.add(out, g, offset)
    return out


def _rows(start: int, stop: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, stop)) for i in range(start, stop, size)]


def gradient_similarity_scores(
    model: nn.Module,
    explained: Tensor,
    explained_targets: Tensor,
    reference: Callable[[], Iterable[tuple[Tensor, Tensor]]],
    n_reference: int,
    *,
    kernel: Kernel,
    prefixes: Sequence[str] = (),
    projection_dim: int = 0,
    seed: int = 0,
    memory_mb: float = 1024,
) -> Result:
    """Kernel scores (N, R) between the explained images (normalised, on the model's device) with
    their loss targets and the ``n_reference`` images that each call of ``reference()`` yields in
    batches of (images, loss targets); see the module doc for the memory policy."""
    model.eval()
    names = select_parameters(model, prefixes)
    n_params = parameter_count(model, names)
    device = explained.device
    n = len(explained)
    # inner products per gradient: with every other side's and its own (the norm)
    how = plan(model, names, explained[:1], pairs=n * n_reference / (n + n_reference) + 1, ghost=not projection_dim)
    half = memory_mb * 2**20 / 2
    chunk = max(1, int(half // (4 * how.floats)))  # gradients (ghost layers: factors) per batched pass
    sketch = CountSketch(n_params, projection_dim, seed, device) if projection_dim else None
    group = n if sketch else max(1, min(n, chunk))
    n_check = min(4, n, int(half / 2 // (4 * n_params))) if sketch else 0

    dot = torch.empty(n, n_reference, dtype=torch.float64)
    sq_x = torch.empty(n, dtype=torch.float64)
    sq_ref = torch.empty(n_reference, dtype=torch.float64)
    scale_x = torch.empty(n, dtype=torch.float64)
    scale_ref = torch.empty(n_reference, dtype=torch.float64)
    ref_pred = torch.empty(n_reference, dtype=torch.long)
    exact_dot = torch.empty(n_check, n_reference, dtype=torch.float64)
    groups = _rows(0, n, group)
    # when one group holds every explained image, they ride along the first reference chunk's pass
    merge = len(groups) == 1 and sketch is None
    for first, rows in enumerate(groups):
        chunks = _chunks(reference, chunk, n_reference)
        full, done = None, []
        if merge:
            cols, xr, yr = next(chunks)
            gx: Any = []
            blocks, logits, scale = gradient_blocks(model, names, torch.cat([explained, xr.to(device)]),
                                                    torch.cat([explained_targets.to(device), yr.to(device)]), how)
            got = _reference_products(_split_off(blocks, n, gx), gx, None, None, n, len(xr), device)
            got["scale"], scale_x[:] = scale[n:].cpu(), scale[:n].cpu()
            sq_x[:] = sum(_sq(g) for _, g in gx).cpu()
            done.append((cols, got, logits[n:]))
        else:
            parts: list[Any] = []
            check: list[Blocks] = []
            for sub in _rows(rows.start, rows.stop, chunk):
                blocks, _, scale = gradient_blocks(model, names, explained[sub], explained_targets[sub].to(device), how)
                got_x = list(blocks)
                sq_x[sub], scale_x[sub] = sum(_sq(g) for _, g in got_x).cpu(), scale.cpu()
                if sub.start < n_check:
                    check.append([(offset, g[: n_check - sub.start]) for offset, g in got_x])
                parts.append(_sketched(sketch, got_x, sub.stop - sub.start, device) if sketch is not None else got_x)
            gx = torch.cat(parts) if sketch is not None else _join(parts)
            full = _join(check) if check and first == 0 else None
        rest = _reference_pass(model, names, how, chunks, gx, full, sketch, rows.stop - rows.start, device)
        for cols, got, logits in itertools.chain(done, rest):
            dot[rows, cols] = got["dot"]
            if first == 0:
                sq_ref[cols], scale_ref[cols] = got["sq"], got["scale"]
                ref_pred[cols] = logits.argmax(1).cpu()
                if full is not None:
                    exact_dot[:, cols] = got["exact"]
    # with a projection, only the dot products are approximate: the kernels use the exact norms
    scores = kernel_scores(kernel, dot, sq_x, sq_ref, scale_x, scale_ref)
    meta: dict[str, Any] = {"memory_mb": memory_mb, "chunk": chunk, "group": group, "passes": len(groups),
                            "path": how.path, "ghost_layers": sorted(how.ghost), "values_per_image": how.floats}
    if sketch is not None:
        meta["projection"] = {"kind": "count_sketch", "dim": projection_dim, "check_images": n_check}
        if n_check:
            from scipy.stats import spearmanr  # only with a projection: scipy.stats costs every job 0.6 s

            exact = kernel_scores(kernel, exact_dot, sq_x[:n_check], sq_ref, scale_x[:n_check], scale_ref)
            err = (scores[:n_check] - exact).abs()
            meta["projection"].update(
                max_abs_error=float(err.max()),
                relative_error=float(err.norm() / exact.norm().clamp_min(1e-300)),
                spearman=float(spearmanr(scores[:n_check].flatten(), exact.flatten()).statistic),
            )
    log.info("gradient similarity: %d x %d images, %d parameters, %d pass(es)", n, n_reference, n_params, len(groups))
    return Result(scores, sq_x * scale_x.square(), sq_ref * scale_ref.square(), scale_x == 0, scale_ref == 0, ref_pred,
                  list(names), n_params, meta)
