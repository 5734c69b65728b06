"""Top-k metrics under ties: no dependence on rounding or order, exact expectations, OpenXAI without ties."""

import itertools

import numpy as np
import pytest
import torch

from xaisim.similarity import METRICS, Chunk, grids, normalise
from xaisim.similarity.metrics import top_count

TOPK = {
    "topk_iou": {"k": 10.0},
    "feature_agreement": {"k": 10.0},
    "topk_sign_agreement": {"k": 10.0},
    "rank_agreement": {"k": 10.0},
    "signed_rank_agreement": {"k": 10.0},
    "cohen_kappa": {"thresholds": [0.25, 0.5, 0.75]},
}


def _prepare(raw: torch.Tensor, spec: list[str], hw: tuple[int, int]) -> torch.Tensor:
    before, after = normalise.split(normalise.parse(spec, "normalise"))
    return normalise.apply(after, grids.resize(normalise.apply(before, raw), hw)).float()


def _block_maps(rng: np.random.Generator, images: int, models: int, cells: int, size: int) -> torch.Tensor:
    """KernelSHAP-like raw maps: one value per grid cell (a few values repeated), signed."""
    values = np.round(rng.standard_normal((images, models, cells, cells)), 1)
    return torch.from_numpy(values).repeat_interleave(size // cells, -2).repeat_interleave(size // cells, -1)


@pytest.mark.parametrize(
    ("spec", "cells", "native"),
    [(["minmax", "resize"], 4, 32), (["minmax", "resize", "minmax"], 4, 4), (["maxabs", "resize"], 8, 16)],
)
@pytest.mark.parametrize("name", sorted(TOPK))
def test_float32_and_float64_preparation_agree(name, spec, cells, native):
    raw = _block_maps(np.random.default_rng(3), 6, 4, cells, native)
    sims = [
        METRICS.get(name)(Chunk(_prepare(raw.to(dtype).flatten(0, 1), spec, (64, 64)).unflatten(0, (6, 4))), **TOPK[name])
        for dtype in (torch.float32, torch.float64)
    ]
    assert np.abs(sims[0].numpy() - sims[1].numpy()).max() <= 1e-6
    np.testing.assert_allclose(np.diagonal(sims[0].numpy(), axis1=1, axis2=2), 1.0, atol=1e-6)


def _orders(values: np.ndarray):
    """Every order of the pixels by decreasing value that breaks ties some way, equally likely."""
    blocks = [list(np.flatnonzero(values == v)) for v in sorted(set(values), reverse=True)]
    for parts in itertools.product(*(itertools.permutations(b) for b in blocks)):
        yield [p for part in parts for p in part]


def _chances(values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """By enumeration: each pixel's chance to be in the top n, and to hold each place r < n."""
    orders = list(_orders(values))
    place = np.zeros((values.size, n))
    for order in orders:
        for r, pixel in enumerate(order[:n]):
            place[pixel, r] += 1 / len(orders)
    return place.sum(1), place


def test_tied_top_k_metrics_equal_their_enumerated_expectations():
    maps = np.array([[3, 3, 2, 2, 2, 1, 0, -1], [3, 2, 2, -2, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 1, 1.0]])
    k = 50.0  # top 4 of 8
    n = top_count(k, maps.shape[1])
    chunk = Chunk(torch.from_numpy(maps.astype(np.float32))[None, :, None, :])
    got = {name: METRICS.get(name)(chunk, k=k).numpy()[0] for name in
           ("feature_agreement", "topk_sign_agreement", "rank_agreement", "signed_rank_agreement")}
    got["topk_iou"] = METRICS.get("topk_iou")(chunk, k=k, absolute=True).numpy()[0]
    chances = [_chances(np.abs(m), n) for m in maps]
    sign = np.sign(maps)
    for i, j in itertools.product(range(3), repeat=2):
        (top_i, place_i), (top_j, place_j) = chances[i], chances[j]
        same = sign[i] == sign[j]
        overlap = np.minimum(top_i, top_j)
        assert got["feature_agreement"][i, j] == pytest.approx(overlap.sum() / n, abs=1e-9)
        assert got["topk_iou"][i, j] == pytest.approx(overlap.sum() / (2 * n - overlap.sum()), abs=1e-9)
        assert got["topk_sign_agreement"][i, j] == pytest.approx((overlap * same).sum() / n, abs=1e-9)
        ranks = np.minimum(place_i, place_j).sum(1)
        assert got["rank_agreement"][i, j] == pytest.approx(ranks.sum() / n, abs=1e-9)
        assert got["signed_rank_agreement"][i, j] == pytest.approx((ranks * same).sum() / n, abs=1e-9)
    assert np.allclose(np.diagonal(got["rank_agreement"]), 1.0)


def test_an_order_inside_a_tied_block_changes_nothing():
    maps = torch.from_numpy(_block_maps(np.random.default_rng(0), 2, 3, 4, 16).numpy().astype(np.float32))
    flat = maps.flatten(2)
    shuffled = flat[..., torch.randperm(flat.shape[-1], generator=torch.Generator().manual_seed(0))]
    for name, params in TOPK.items():
        a = METRICS.get(name)(Chunk(maps), **params)
        b = METRICS.get(name)(Chunk(shuffled.reshape(maps.shape)), **params)
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
