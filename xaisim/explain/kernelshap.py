"""KernelSHAP on superpixels: batched over images x coalitions, a paired sampler, exact efficiency.

For an image with S segments, a coalition ``z`` keeps the segments in ``z`` and replaces the rest by
the baseline (:mod:`xaisim.explain.perturb`); ``v(z)`` is the target class score. The Shapley
values are the weighted least-squares fit of ``v(z) - v(0)`` by ``z . phi`` under the Shapley
kernel ``pi(z) = (S - 1) / (C(S, |z|) |z| (S - |z|))`` with ``sum(phi) = v(1) - v(0)`` exact
(Lundberg & Lee 2017).

Sampler (:func:`design`), like shap's KernelExplainer and better (``bench/methods.py efficiency``):
coalition sizes are taken in pairs ``k`` and ``S - k`` from the outside in; the ``2S`` coalitions of
size 1 and S - 1 are enumerated first whenever they fit (the fewest that determine every value,
see :func:`validate`), any further pair of sizes whose kernel-weight share of the budget covers all
its coalitions is enumerated too, with exact kernel weights. The rest of the budget is split among
the other pairs of sizes in proportion to their kernel weight (stratified, where shap draws the
sizes at random; pairs of sizes too thin to get one balanced round are left out until the budget
reaches them) and each deals distinct coalitions, each with its complement (no duplicate
evaluations), balanced: each takes the segments dealt least so far, so that every segment is in
about as many of them as the others (:func:`_balanced_pairs`). A part of ``v`` that depends only
on the coalition size then cancels from the fit as it does under full enumeration (uniform draws
leave it as noise). Every pair of sizes sampled keeps its exact total kernel weight. A coalition
and its complement always come together with equal weights, so any game with interactions of at
most two segments gets its exact values from ``n_samples >= 2S`` (its residual from the additive
fit is the same on both). ``n_samples >= 2^S - 2`` enumerates every coalition and gives the exact
Shapley values. The coalitions depend only on ``seed`` and S, so an image's values do not depend
on its batch.

The solve eliminates the last segment through the efficiency constraint (as shap does) and solves
the weighted least squares in float64 with ``torch.linalg.lstsq`` (minimum norm if the coalitions
do not determine every value: such images are flagged in the extra ``undetermined``, which the
driver counts in the file's metadata and the outcomes table; see :func:`validate`).
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any

import numpy as np
import torch
from pydantic import Field
from torch import Tensor, nn

from xaisim.explain import Explanation, Needs, register_method
from xaisim.explain.baselines import BaselineName, BlurSigma, NoiseStd, make_baseline, mean_std
from xaisim.explain.perturb import Output, evaluate, spread
from xaisim.explain.segment import THESIS_SLIC, Segmentation, require_samples, segment, to_pixels


def design(n_segments: int, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Coalitions (n, S) bool, neither empty nor full, and their kernel weights (n,) float64.

    ``n = min(n_samples, 2^S - 2)``, or one fewer when the sampled part is odd (pairs).
    """
    m = n_segments
    if m < 2:
        return np.zeros((0, m), dtype=bool), np.zeros(0)
    budget = min(n_samples, 2**m - 2)
    ks = np.arange(1, m // 2 + 1)
    paired = 2 * ks != m  # size k and its complement size S - k are different sizes
    size_weight = (m - 1) / (ks * (m - ks))  # total kernel weight of all coalitions of size k
    class_weight = size_weight * np.where(paired, 2, 1)
    class_count = np.array([math.comb(m, int(k)) for k in ks], dtype=float) * np.where(paired, 2, 1)
    rows: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    left = budget
    first_sampled = len(ks)
    for i, k in enumerate(ks):
        covered = left * class_weight[i] / class_weight[i:].sum() >= class_count[i] - 1e-8
        singles = i == 0 and left >= class_count[0]  # the 2S coalitions that determine every value
        if left < class_count[i:].sum() and not (covered or singles):
            first_sampled = i
            break
        subsets = _with_size(m, int(k))
        if paired[i]:
            subsets = np.concatenate([subsets, ~subsets])
        rows.append(subsets)
        weights.append(np.full(len(subsets), size_weight[i] / math.comb(m, int(k))))
        left -= len(subsets)
    if first_sampled < len(ks) and left >= 2:
        z, w = _sample_pairs(m, ks[first_sampled:], class_weight[first_sampled:], left // 2, seed)
        rows.append(z)
        weights.append(w)
    if not rows:
        return np.zeros((0, m), dtype=bool), np.zeros(0)
    return np.concatenate(rows), np.concatenate(weights)


def _sample_pairs(m: int, ks: np.ndarray, class_weight: np.ndarray, n_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` distinct (coalition, complement) pairs, stratified by the pair of sizes (k, S - k).

    Each pair of sizes gets a share of the pairs in proportion to its kernel weight (largest
    remainders; never more than it has, the excess going to the others) and deals them balanced
    (:func:`_balanced_pairs`); each coalition carries its class's weight over the class's
    coalitions drawn. Fixing the shares removes the variance of drawing the sizes at random (shap
    draws them). While a pair of sizes would get fewer pairs than one balanced round (``ceil(S / k)``:
    every segment dealt once), the innermost one is left out, its weight with it (a class with one
    or two unbalanced pairs carrying its whole weight adds more noise than its sizes add
    information), unless the budget cannot give even the outermost one a round.
    """
    rng = np.random.default_rng([seed, m])
    available = np.array([math.comb(m, int(k)) // (2 if 2 * k == m else 1) for k in ks])
    one_round = np.array([1 if 2 * k == m else -(-m // int(k)) for k in ks])
    used = np.ones(len(ks), dtype=bool)
    while True:
        target = _shares(np.where(used, class_weight, 0.0), available, n_pairs)
        if n_pairs < one_round[0] or (target[used] >= one_round[used]).all():
            break
        used[np.flatnonzero(used)[-1]] = False
    alloc = np.floor(target + 1e-9).astype(int)
    alloc[np.argsort(alloc - target, kind="stable")[: n_pairs - alloc.sum()]] += 1
    rows, weights = [], []
    for k, n, total, weight in zip(ks, alloc, available, class_weight):
        if n == 0:
            continue
        rows.append(_balanced_pairs(m, int(k), int(n), int(total), rng))
        weights.append(np.full(n, weight / (2 * n)))
    z, w = np.concatenate(rows), np.concatenate(weights)
    return np.concatenate([z, ~z]), np.concatenate([w, w])


def _shares(weight: np.ndarray, available: np.ndarray, n: int) -> np.ndarray:
    """``n`` split in proportion to ``weight``, none above ``available`` (the excess goes to the others)."""
    capped = np.zeros(len(weight), dtype=bool)
    while True:
        free = np.where(capped, 0.0, weight)
        target = np.where(capped, available, (n - available[capped].sum()) * free / max(free.sum(), 1e-300))
        over = ~capped & (target > available)
        if not over.any():
            return target
        capped |= over


def _with_size(m: int, k: int) -> np.ndarray:
    """All coalitions of ``k`` of ``m`` segments: (C(m, k), m) bool."""
    combos = np.array(list(itertools.combinations(range(m), k)), dtype=int).reshape(-1, k)
    z = np.zeros((len(combos), m), dtype=bool)
    z[np.arange(len(combos))[:, None], combos] = True
    return z


def _balanced_pairs(m: int, k: int, n: int, total: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` of the ``total`` distinct (coalition, complement) pairs of sizes (k, S - k), each given by the
    member without the last segment: (n, m) bool.

    The size-k members are dealt balanced: each takes the k segments dealt least so far (ties, and
    after a pair already taken ever more of the order, at random), so that every segment is in about
    as many of them as the others. Any part of ``v(z)`` that depends only on ``|z|`` then cancels
    from the least-squares fit, as it does with every coalition enumerated; uniform draws leave it
    as noise. Each pair is still equally likely (the order is exchangeable). Beyond half the pairs
    the pairs left out are dealt instead (the whole size class is balanced).
    """
    drop = 2 * n > total
    want = total - n if drop else n
    found: dict[bytes, np.ndarray] = {}
    dealt_so_far = np.zeros(m)
    while len(found) < want:
        spread = 1.0
        while True:
            z = np.zeros(m, dtype=bool)
            z[np.argsort(dealt_so_far + spread * rng.random(m))[:k]] = True
            key = ~z if z[-1] else z
            if key.tobytes() not in found:
                break
            spread *= 1.5
        found[key.tobytes()] = key
        dealt_so_far += z
    dealt = np.array(list(found.values()), dtype=bool).reshape(-1, m)
    if not drop:
        return dealt
    every = _with_size(m, k)
    every[every[:, -1]] = ~every[every[:, -1]]  # each pair by its member without the last segment
    every = np.unique(every, axis=0)  # for k = S/2 both members give the same key
    taken = {row.tobytes() for row in dealt}
    return every[[row.tobytes() not in taken for row in every]]


def shapley_values(coalitions: np.ndarray, weights: np.ndarray, scores: Tensor, empty: float, full: float) -> tuple[Tensor, int]:
    """Constrained weighted least squares: values (S,) float64 with ``sum = full - empty``; and the rank."""
    m = coalitions.shape[1]
    total = full - empty
    if m == 1 or len(coalitions) == 0:
        return torch.full((m,), total / m, dtype=torch.float64), m - 1
    z = torch.from_numpy(coalitions).double()
    root_w = torch.from_numpy(weights).double().sqrt()
    x = (z[:, :-1] - z[:, -1:]) * root_w[:, None]
    t = (scores.double() - empty - z[:, -1] * total) * root_w
    solution = torch.linalg.lstsq(x, t[:, None], driver="gelsd")
    head = solution.solution[:, 0]
    return torch.cat([head, (total - head.sum())[None]]), int(solution.rank)


def validate(params: dict[str, Any]) -> None:
    """n_samples >= 2 x the segments: enough to evaluate every single segment and its complement, the
    fewest coalitions that determine every value."""
    require_samples(params["segmentation"], params["n_samples"], lambda n: 2 * n, "every segment alone and all but it")


@register_method("kernelshap", needs=Needs(gradients=False, evals=True), validate=validate)
def kernelshap(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    evals: int,
    *,
    segmentation: Segmentation = THESIS_SLIC,
    n_samples: Annotated[int, Field(ge=2, le=100_000)] = 350,
    baseline: BaselineName = "zero",
    blur_sigma: BlurSigma = 5.0,
    noise_std: NoiseStd = 1.0,
    output: Output = "raw",
    seed: int = 0,
) -> Explanation:
    """Shapley values of the segments of ``segmentation`` for the target score (``output``: the raw
    score or its softmax), spread on pixels: maps (B, H, W) float32, each pixel its segment's value,
    and the extra ``undetermined`` (B,): the image has more segments than ``n_samples`` determine
    (its values are the minimum-norm least-squares fit).
    ``n_samples`` coalitions are evaluated besides the empty and the full one; ``baseline`` fills
    left-out segments (:mod:`xaisim.explain.baselines`). ``evals``, the most model evaluations per forward
    pass, is a performance knob: the values do not depend on it beyond floating-point rounding."""
    segments = segment(to_pixels(model, inputs), segmentation)
    mean, std = mean_std(model)
    base = make_baseline(inputs, baseline, mean=mean, std=std, blur_sigma=blur_sigma, noise_std=noise_std, seed=seed)
    designs = [design(int(s.max()) + 1, n_samples, seed) for s in segments]
    coalitions = [
        np.concatenate([np.zeros((1, z.shape[1]), bool), np.ones((1, z.shape[1]), bool), z]) for z, _ in designs
    ]
    scores = evaluate(model, inputs, base, segments, coalitions, targets, output, evals)
    values, short = [], []
    for (z, w), v in zip(designs, scores):
        phi, rank = shapley_values(z, w, v[2:], float(v[0]), float(v[1]))
        short.append(rank < z.shape[1] - 1)
        values.append(phi)
    return Explanation(spread(values, segments), {"undetermined": torch.tensor(short, device=inputs.device)})
