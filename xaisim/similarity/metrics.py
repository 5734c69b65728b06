"""Similarity metrics: one registered function per metric, all computed from one chunk of maps.

A metric is ``fn(chunk, **params) -> sims``: ``chunk`` (:class:`Chunk`) holds the prepared maps
(B, M, H, W) float32 of M models for the same B images, ``sims`` (B, M, M) float64 is every model
pair's similarity per image. The chunk caches what several metrics share (Gram matrices, ranks,
top-k masks), so that a method's metrics together read and reduce each chunk once. Reductions over
pixels run in float32 blocks accumulated in float64.

Conventions: a map with no spread (all zero for cosine, constant for pearson/spearman) has
similarity 0 to every map; the zero-map policy of the stage decides what is kept (see
:mod:`xaisim.similarity.stream`). ``k`` is a percentage of the pixels.

Ties (block-constant KernelSHAP/LIME maps, upsampled GradCAM) are common, and float rounding decides
which of two values that are equal in exact arithmetic comes first. So values within
:data:`TIE_RTOL` of the map's largest |value| of each other are one tied block (chained along the
sorted values), and no metric depends on an order inside a block. A pixel's top-k membership is its
chance to be in the top k under a uniformly random order of each block: 1 above the block that
straddles the k-th place, that block's share of the places left inside it, 0 below (memberships sum
to the top-k count). Likewise its chance to hold place r is 1/(block size) at each place its block
spans. Two maps' overlaps are fuzzy (Ruzicka): the sum over pixels of the smaller of the two
chances, so a map agrees with itself fully, ties or not. Top-k IoU is overlap / (2 count - overlap),
feature and sign agreement overlap / count, rank agreement the overlap of the place chances within
the top k over the count. Without ties these are OpenXAI's definitions (Krishna et al. 2022); with
ties OpenXAI's depend on its sort's order, ours on none.
Cohen's kappa puts a value within the tolerance below a threshold into the class above it.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Callable, Literal

import torch
import torch.nn.functional as F
from pydantic import AfterValidator, Field
from torch import Tensor

from xaisim.registry import Registry

METRICS: Registry = Registry("similarity metric")
register_metric = METRICS.register

BLOCK = 1024  # most pixels per float32 block of a Gram matrix
TIE_RTOL = 1e-6  # values this close (relative to the map's largest |value|) are tied
Percent = Annotated[float, Field(gt=0, le=100)]


class Chunk:
    """Maps (B, M, H, W) float32 of one chunk of images, with the shared quantities cached.

    ``buffer``: the maps' own storage if it has :func:`gram_buffer`'s layout (the stage reads the
    maps into one), so that :func:`gram` needs no copy.
    """

    def __init__(self, maps: Tensor, buffer: Tensor | None = None) -> None:
        self.maps = maps
        self.flat = maps.flatten(2)
        self.buffer = buffer
        self._cache: dict[Any, Tensor] = {}

    def cached(self, key: Any, make: Callable[[], Tensor]) -> Tensor:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def pixels(self) -> int:
        return self.flat.shape[-1]

    def gram(self) -> Tensor:
        return self.cached("gram", lambda: gram(self.flat, self.buffer))

    def centred(self) -> Tensor:
        return self.cached("centred", lambda: self.flat - self.flat.mean(-1, keepdim=True))

    def ranks(self) -> Tensor:
        return self.cached("ranks", lambda: average_ranks(self.flat))

    def tie_blocks(self, by_abs: bool) -> tuple[Tensor, Tensor, Tensor]:
        """(first, last, order) (B, M, D) int64: the places (0-based, by decreasing value or |value|)
        that each pixel's tied block spans (see the module docstring), and the pixels in place order."""
        return self.cached(("blocks", by_abs), lambda: tie_blocks(self.flat.abs() if by_abs else self.flat))

    def front(self, k: float, by_abs: bool, i: int) -> Tensor:
        """(B, c) pixel indices of map ``i`` that may be in its top ``k`` % (places before the end of
        the block straddling the k-th place), padded with later places to the batch's largest c."""
        first, _, order = self.tie_blocks(by_abs)
        c = int((first[:, i] < top_count(k, self.pixels)).sum(-1).max())
        return order[:, i, :c]

    def top_mask(self, k: float, by_abs: bool) -> Tensor:
        """(B, M, D) float64: each pixel's chance to be among the map's top ``k`` % (1 or 0 without ties)."""

        def make() -> Tensor:
            first, last, _ = self.tie_blocks(by_abs)
            n = top_count(k, self.pixels)
            share = (n - first).clamp(0).double() / (last - first + 1).double()
            return share.clamp(max=1)

        return self.cached(("top", k, by_abs), make)

    def signs(self) -> Tensor:
        return self.cached("sign", lambda: torch.sign(self.flat))

    def sign_masks(self) -> Tensor:
        """(B, M, 3 D) float32: indicators of x > 0, x < 0 and x == 0, side by side."""
        return self.cached("signs", lambda: torch.cat([(self.flat > 0), (self.flat < 0), (self.flat == 0)], -1).float())


def gram_blocks(pixels: int) -> tuple[int, int]:
    """(number, width) of the equal pixel blocks of a Gram matrix: widths <= :data:`BLOCK`."""
    n = -(-pixels // BLOCK)
    return n, -(-pixels // n)


def gram_buffer(images: int, models: int, pixels: int) -> Tensor:
    """Zeroed (M, B, P) float32 storage for maps (B, M, D) as ``buffer[:, :, :D].transpose(0, 1)``,
    P = blocks x width >= D: every block of every image is then a (M, width) matrix at a fixed
    stride, so :func:`gram` reduces them all in one batched matmul; the padding stays zero."""
    n, width = gram_blocks(pixels)
    return torch.zeros(models, images, n * width, dtype=torch.float32)


def gram(x: Tensor, buffer: Tensor | None = None) -> Tensor:
    """x (B, M, D) -> (B, M, M) float64 inner products: float32 products per block of pixels
    (:func:`gram_blocks`), summed in float64. ``buffer``: x's storage in :func:`gram_buffer`'s
    layout (``x`` is copied into a new one otherwise)."""
    b, m, d = x.shape
    n, width = gram_blocks(d)
    if buffer is None:
        buffer = gram_buffer(b, m, d)
        buffer[:, :, :d] = x.transpose(0, 1)
    if buffer.shape != (m, b, n * width) or buffer.stride()[1:] != (n * width, 1):
        raise ValueError(f"gram: buffer {tuple(buffer.shape)} {buffer.stride()} is not the layout of maps {tuple(x.shape)}")
    blocks = buffer.as_strided((b * n, m, width), (width, buffer.stride(0), 1))
    return torch.bmm(blocks, blocks.transpose(1, 2)).double().view(b, n, m, m).sum(1)


def _cosine_from_gram(g: Tensor) -> Tensor:
    norm = g.diagonal(dim1=1, dim2=2).clamp_min(0).sqrt()
    outer = norm[:, :, None] * norm[:, None, :]
    sims = torch.where(outer > 0, g / torch.where(outer > 0, outer, torch.ones_like(outer)), torch.zeros_like(g))
    return sims.clamp(-1, 1)


def top_count(k: float, pixels: int) -> int:
    """Number of pixels in the top ``k`` %: ceil(k / 100 * pixels), at least 1."""
    return max(1, math.ceil(k / 100 * pixels - 1e-9))


def tie_blocks(x: Tensor, rtol: float = TIE_RTOL) -> tuple[Tensor, Tensor, Tensor]:
    """For x (..., D): the first and last place (0-based, by decreasing value) of each element's
    tied block (sorted neighbours within ``rtol`` x max |x| of each other are tied), and the
    elements in place order."""
    values, idx = x.sort(dim=-1, descending=True, stable=True)
    n = values.shape[-1]
    tol = rtol * x.abs().amax(-1, keepdim=True)
    pos = torch.arange(n).expand_as(idx)
    breaks = (values[..., :-1] - values[..., 1:]) > tol
    edge = torch.ones_like(values[..., :1], dtype=torch.bool)
    starts, ends = torch.cat([edge, breaks], -1), torch.cat([breaks, edge], -1)
    first = torch.where(starts, pos, torch.zeros_like(pos)).cummax(-1).values
    last = torch.where(ends, pos, torch.full_like(pos, n - 1)).flip(-1).cummin(-1).values.flip(-1)
    return torch.empty_like(first).scatter_(-1, idx, first), torch.empty_like(last).scatter_(-1, idx, last), idx


def average_ranks(x: Tensor) -> Tensor:
    """Ranks (1-based, float32) along the last axis, ties sharing their average rank (scipy's default)."""
    values, idx = x.sort(dim=-1, stable=True)
    n = values.shape[-1]
    pos = torch.arange(n, dtype=torch.float32).expand_as(values)
    differs = values[..., 1:] != values[..., :-1]
    starts = torch.cat([torch.ones_like(values[..., :1], dtype=torch.bool), differs], -1)
    ends = torch.cat([differs, torch.ones_like(values[..., :1], dtype=torch.bool)], -1)
    first = torch.where(starts, pos, torch.zeros_like(pos)).cummax(-1).values
    last = torch.where(ends, pos, torch.full_like(pos, n - 1)).flip(-1).cummin(-1).values.flip(-1)
    ranks = (first + last) / 2 + 1
    return torch.empty_like(ranks).scatter_(-1, idx, ranks)


@register_metric("cosine")
def cosine(chunk: Chunk) -> Tensor:
    """Cosine similarity of the flattened maps (torch's and the thesis' cosine)."""
    return _cosine_from_gram(chunk.gram())


@register_metric("rbf")
def rbf(chunk: Chunk, *, sigma: Annotated[float, Field(gt=0)] | Literal["auto"] = 80.0) -> Tensor:
    """Gaussian kernel exp(-||a - b||^2 / (2 sigma^2)) of the flattened maps.

    ``sigma: auto`` is scale-free: per image, the median distance between the M models' maps (a
    median of 0, all maps equal, gives 1 for equal pairs and 0 otherwise).
    """
    g = chunk.gram()
    sq_norm = g.diagonal(dim1=1, dim2=2)
    sq = (sq_norm[:, :, None] + sq_norm[:, None, :] - 2 * g).clamp_min(0)
    if sigma == "auto":
        m = sq.shape[1]
        upper = torch.triu_indices(m, m, offset=1)
        dist = sq[:, upper[0], upper[1]].sqrt()
        scale = dist.quantile(0.5, dim=1) if dist.shape[1] else torch.ones(sq.shape[0], dtype=sq.dtype)
        two_var = 2 * scale.square()[:, None, None]
        return torch.where(two_var > 0, torch.exp(-sq / torch.where(two_var > 0, two_var, 1.0)), (sq == 0).double())
    return torch.exp(-sq / (2 * float(sigma) ** 2))


@register_metric("pearson")
def pearson(chunk: Chunk) -> Tensor:
    """Pearson correlation of the pixels of two maps (cosine of the mean-centred maps)."""
    return _cosine_from_gram(chunk.cached("pearson", lambda: gram(chunk.centred())))


@register_metric("spearman")
def spearman(chunk: Chunk) -> Tensor:
    """Spearman rank correlation of the pixels (Pearson of average ranks, as scipy)."""

    def make() -> Tensor:
        ranks = chunk.ranks()
        return gram(ranks - ranks.mean(-1, keepdim=True))

    return _cosine_from_gram(chunk.cached("spearman", make))


def _box(x: Tensor, win: int) -> Tensor:
    """Mean over win x win windows, valid positions only: x (..., H, W) -> (..., H-win+1, W-win+1)."""
    shape = x.shape
    y = x.reshape(-1, 1, *shape[-2:])
    y = F.avg_pool2d(F.avg_pool2d(y, (win, 1), stride=1), (1, win), stride=1)
    return y.reshape(*shape[:-2], *y.shape[-2:])


def _odd(win: int) -> int:
    if win % 2 == 0:
        raise ValueError("must be odd")
    return win


@register_metric("ssim")
def ssim(
    chunk: Chunk,
    *,
    win_size: Annotated[int, Field(ge=3, le=255), AfterValidator(_odd)] = 7,
    data_range: Annotated[float, Field(gt=0)] = 1.0,
    k1: Annotated[float, Field(gt=0)] = 0.01,
    k2: Annotated[float, Field(gt=0)] = 0.03,
) -> Tensor:
    """Mean structural similarity, scikit-image's ``structural_similarity`` definition (uniform
    ``win_size`` window, sample covariance, the mean over the windows inside the map).

    ``data_range`` is the value range of the maps (1 for min-max or abs-normalised maps, 2 for
    max-abs-normalised signed maps).
    """
    maps = chunk.maps
    b, m, h, w = maps.shape
    if min(h, w) < win_size:
        raise ValueError(f"ssim: maps of {h}x{w} are smaller than win_size {win_size}; use a finer grid or a smaller win_size")
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    cov_norm = win_size**2 / (win_size**2 - 1)
    mu = _box(maps, win_size)
    var = cov_norm * (_box(maps * maps, win_size) - mu * mu)
    out = torch.empty(b, m, m, dtype=torch.float64)
    for i in range(m):
        cross = _box(maps[:, i : i + 1] * maps[:, i:], win_size)
        mu_i, mu_j = mu[:, i : i + 1], mu[:, i:]
        cov = cov_norm * (cross - mu_i * mu_j)
        s = ((2 * mu_i * mu_j + c1) * (2 * cov + c2)) / ((mu_i**2 + mu_j**2 + c1) * (var[:, i : i + 1] + var[:, i:] + c2))
        row = s.double().mean(dim=(-2, -1))
        out[:, i, i:] = row
        out[:, i:, i] = row
    return out


def _at(x: Tensor, idx: Tensor) -> Tensor:
    """x (B, M, D) at pixels idx (B, c) -> (B, M, c)."""
    return x.gather(-1, idx[:, None].expand(-1, x.shape[1], -1))


def _pairs(chunk: Chunk, k: float, by_abs: bool, term) -> Tensor:
    """(B, M, M) float64: for each map i, the sum of ``term(i, idx)`` (B, M, c) over the pixels idx
    that may be in map i's top k; pixels outside it add nothing to any top-k overlap."""
    m = chunk.flat.shape[1]
    out = torch.empty(chunk.flat.shape[0], m, m, dtype=torch.float64)
    for i in range(m):
        out[:, i] = term(i, chunk.front(k, by_abs, i)).sum(-1)
    return out


def _top_overlap(chunk: Chunk, k: float, by_abs: bool, signed: bool = False) -> Tensor:
    """Fuzzy overlap of two maps' top-k memberships (with the same sign if ``signed``)."""

    def term(i: int, idx: Tensor) -> Tensor:
        top = _at(chunk.top_mask(k, by_abs), idx)
        smaller = torch.minimum(top[:, i : i + 1], top)
        if signed:
            sign = _at(chunk.signs(), idx)
            smaller = smaller * (sign[:, i : i + 1] == sign)
        return smaller

    return chunk.cached(("overlap", k, by_abs, signed), lambda: _pairs(chunk, k, by_abs, term))


@register_metric("topk_iou")
def topk_iou(chunk: Chunk, *, k: Percent = 10.0, absolute: bool = False) -> Tensor:
    """Intersection over union of the two maps' top ``k`` % pixels (by value, or |value|)."""
    inter = _top_overlap(chunk, k, absolute)
    n = top_count(k, chunk.pixels)
    return inter / (2 * n - inter)


@register_metric("feature_agreement")
def feature_agreement(chunk: Chunk, *, k: Percent = 10.0) -> Tensor:
    """Krishna et al. 2022: fraction of the top-k features (by |value|) that both maps share."""
    return _top_overlap(chunk, k, True) / top_count(k, chunk.pixels)


@register_metric("topk_sign_agreement")
def topk_sign_agreement(chunk: Chunk, *, k: Percent = 10.0) -> Tensor:
    """Krishna et al. 2022 "sign agreement": fraction of the top-k features (by |value|) shared by
    both maps with the same sign."""
    return _top_overlap(chunk, k, True, signed=True) / top_count(k, chunk.pixels)


def _rank_matches(chunk: Chunk, k: float, signed: bool) -> Tensor:
    """Share of the top-k places holding the same pixel (and sign) in both maps: per pixel, the
    places among the first n that both maps' blocks span, times the smaller chance 1/(block size)."""
    n = top_count(k, chunk.pixels)
    first, last, _ = chunk.tie_blocks(True)

    def term(i: int, idx: Tensor) -> Tensor:
        lo, hi = _at(first, idx), _at(last, idx)
        size, hi = (hi - lo + 1).double(), hi.clamp(max=n - 1)
        overlap = (torch.minimum(hi[:, i : i + 1], hi) - torch.maximum(lo[:, i : i + 1], lo) + 1).clamp(0)
        weight = overlap / torch.maximum(size[:, i : i + 1], size)
        if signed:
            sign = _at(chunk.signs(), idx)
            weight = weight * (sign[:, i : i + 1] == sign)
        return weight

    return _pairs(chunk, k, True, term) / n


@register_metric("rank_agreement")
def rank_agreement(chunk: Chunk, *, k: Percent = 10.0) -> Tensor:
    """Krishna et al. 2022: fraction of the top-k ranks (by |value|) holding the same feature in both maps."""
    return _rank_matches(chunk, k, signed=False)


@register_metric("signed_rank_agreement")
def signed_rank_agreement(chunk: Chunk, *, k: Percent = 10.0) -> Tensor:
    """Krishna et al. 2022: fraction of the top-k ranks holding the same feature with the same sign."""
    return _rank_matches(chunk, k, signed=True)


@register_metric("sign_agreement")
def sign_agreement(chunk: Chunk) -> Tensor:
    """Fraction of all pixels where the two maps have the same sign (+, - or 0)."""
    return chunk.cached("signgram", lambda: gram(chunk.sign_masks())) / chunk.pixels


def _increasing(values: list[float]) -> list[float]:
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError("must be strictly increasing")
    return values


@register_metric("cohen_kappa")
def cohen_kappa(
    chunk: Chunk,
    *,
    thresholds: Annotated[list[float], Field(min_length=1), AfterValidator(_increasing)] = [0.5],  # noqa: B006
) -> Tensor:
    """Cohen's kappa of the maps' pixels labelled by ``thresholds`` (label i: thresholds[i-1] <= x
    < thresholds[i], as numpy's digitize, a value within the tie tolerance below a threshold counted
    above it): several thresholds give ordered classes. Two constant maps of the same class agree
    perfectly (kappa 1)."""
    bounds = torch.tensor(thresholds, dtype=chunk.flat.dtype)
    tol = TIE_RTOL * chunk.flat.abs().amax(-1, keepdim=True)
    labels = torch.bucketize(chunk.flat + tol, bounds, right=True)
    classes = len(thresholds) + 1
    onehot = torch.cat([(labels == c) for c in range(classes)], -1).float()
    agree = gram(onehot) / chunk.pixels
    freq = onehot.reshape(*onehot.shape[:2], classes, -1).double().mean(-1)
    expected = torch.einsum("bmc,bnc->bmn", freq, freq)
    return torch.where(expected < 1, (agree - expected) / (1 - expected).clamp_min(1e-300), torch.ones_like(agree))
