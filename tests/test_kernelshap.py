"""KernelSHAP: exact Shapley values, efficiency, agreement with shap, determinism, hygiene."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from perturbation_data import DigitsLogReg, coalition_scores, digits, exact_shapley, model, segment_values

from xaisim.explain import METHODS
from xaisim.explain.baselines import make_baseline, mean_std
from xaisim.explain.kernelshap import design, kernelshap, shapley_values
from xaisim.explain.segment import segment, to_pixels

GRID9 = {"name": "grid", "cells": 3}
TARGETS = torch.tensor([0, 1, 2])
EVALS = 64  # model evaluations per forward pass


@pytest.fixture(scope="module")
def vit():
    return model("vit")


@pytest.fixture(scope="module")
def exact(vit):
    """Exact Shapley values of the 9 grid cells of 2 digits, by full enumeration."""
    x = digits(vit, n=2)
    seg = segment(to_pixels(vit, x), GRID9)
    return x, seg, [exact_shapley(coalition_scores(vit, x[b], torch.zeros_like(x[b]), seg[b], int(TARGETS[b])))
                    for b in range(len(x))]


def shap_maps(*args, **kwargs) -> torch.Tensor:
    """KernelSHAP's maps (its extras aside)."""
    return kernelshap(*args, **kwargs).maps


def values(maps, seg):
    return np.stack([segment_values(m, s) for m, s in zip(maps, seg)])


def test_design_enumerates_outer_sizes_pairs_complements_and_never_repeats():
    z, w = design(50, 1000, seed=0)
    sizes = z.sum(1)
    assert len(z) == 1000 and len(np.unique(z, axis=0)) == 1000
    assert ((sizes > 0) & (sizes < 50)).all()
    assert (sizes == 1).sum() == 50 and (sizes == 49).sum() == 50  # exact enumeration of the outer sizes
    assert np.allclose(w[sizes == 1], 49 / 49 / 50)  # Shapley kernel (S-1) / (C(S,k) k (S-k))
    sampled = z[100:]
    assert (sampled[450:] == ~sampled[:450]).all()  # sampled coalitions come with their complements
    assert np.isclose(w.sum(), sum(49 / (k * (50 - k)) for k in range(1, 50)))  # every size keeps its weight
    full, _ = design(9, 10_000, seed=0)
    assert len(full) == 2**9 - 2 and len(np.unique(full, axis=0)) == 2**9 - 2


@pytest.mark.parametrize(("m", "n"), [(9, 62), (12, 200), (13, 46), (50, 1000)])
def test_design_balances_every_sampled_size_and_keeps_its_exact_kernel_weight(m, n):
    z, w = design(m, n, seed=2)
    sizes = z.sum(1)
    assert len(z) == n and len(np.unique(z, axis=0)) == n
    assert (sizes == 1).sum() == m and (sizes == m - 1).sum() == m  # n >= 2S: every segment alone and left out
    for k in np.unique(sizes):
        assert np.isclose(w[sizes == k].sum(), (m - 1) / (k * (m - k)))  # the kernel weight of all size-k coalitions
        counts = z[sizes == k].sum(0)
        assert counts.max() - counts.min() <= 2, (k, counts)  # every segment in about as many coalitions
    if (m, n) == (13, 46):  # 10 pairs cannot give 5 pairs of sizes a balanced round each: the inner ones wait
        assert set(np.unique(sizes)) == {1, 2, 11, 12}


@pytest.mark.parametrize(("m", "n"), [(9, 18), (9, 62), (13, 46), (20, 41), (50, 350)])
def test_a_game_with_pairwise_interactions_is_exact_from_every_budget_of_2s(m, n):
    """Its residual from the additive fit is the same for a coalition and its complement, so each
    complementary pair with equal weights cancels it."""
    rng = np.random.default_rng(m)
    beta, gamma = rng.normal(size=m), np.triu(rng.normal(size=(m, m)), 1)

    def v(z: np.ndarray) -> np.ndarray:
        return z @ beta + np.einsum("ni,ij,nj->n", z, gamma, z)

    exact = beta + (gamma.sum(0) + gamma.sum(1)) / 2
    z, w = design(m, n, seed=3)
    phi = shapley_values(z, w, torch.from_numpy(v(z.astype(float))), 0.0, float(v(np.ones((1, m)))[0]))[0]
    assert np.allclose(phi.numpy(), exact, atol=1e-10)


def test_balanced_coalitions_cancel_a_part_of_the_scores_that_depends_only_on_the_size():
    m = 12
    rng = np.random.default_rng(0)
    beta = rng.normal(size=m)

    def v(z: np.ndarray) -> np.ndarray:
        return z @ beta + 3.0 * np.sqrt(z.sum(1))

    exact = beta + (3.0 * np.sqrt(m) - beta.sum()) / m  # additive part plus an equal share of the size part

    def error(z: np.ndarray, w: np.ndarray) -> float:
        phi = shapley_values(z, w, torch.from_numpy(v(z.astype(float))), 0.0, float(v(np.ones((1, m)))[0]))[0]
        return float(np.linalg.norm(phi.numpy() - exact) / np.linalg.norm(exact))

    balanced, drawn = [], []
    for seed in range(6):
        z, w = design(m, 200, seed)
        # the same sizes, weights and complementary pairs, the sampled ones with uniformly drawn members
        index = {row.tobytes(): i for i, row in enumerate(z)}
        uniform = z.copy()
        for i, row in enumerate(z):
            j = index[(~row).tobytes()]
            if i < j and 1 < row.sum() < m - 1:
                uniform[i] = row[rng.permutation(m)]
                uniform[j] = ~uniform[i]
        balanced.append(error(z, w))
        drawn.append(error(uniform, w))
    assert max(balanced) < 0.05 and 2 * np.mean(balanced) < np.mean(drawn), (balanced, drawn)


def test_all_coalitions_give_the_exact_shapley_values(vit, exact):
    x, seg, phi = exact
    maps = shap_maps(vit, x, TARGETS[:2], 50, segmentation=GRID9, n_samples=2**9 - 2)
    assert maps.shape == (2, 32, 32) and maps.dtype == torch.float32
    assert np.allclose(values(maps, seg), np.stack(phi), atol=1e-5, rtol=1e-4)


def test_converges_to_the_exact_values_with_the_budget(vit, exact):
    x, seg, phi = exact
    errors = []
    for n in (24, 100, 300):
        got = values(shap_maps(vit, x, TARGETS[:2], EVALS, segmentation=GRID9, n_samples=n), seg)
        errors.append(np.linalg.norm(got - np.stack(phi)) / np.linalg.norm(np.stack(phi)))
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.1, errors


@pytest.mark.parametrize("baseline", ["zero", "black", "blur", "noise"])
def test_efficiency_holds(vit, baseline):
    x = digits(vit, n=2, start=5)
    targets = torch.tensor([3, 7])
    maps = shap_maps(vit, x, targets, EVALS, segmentation={"name": "slic", "n_segments": 12, "compactness": 1.0},
                      n_samples=60, baseline=baseline, seed=3)
    seg = segment(to_pixels(vit, x), {"name": "slic", "n_segments": 12, "compactness": 1.0})
    mean, std = mean_std(vit)
    base = make_baseline(x, baseline, mean=mean, std=std, seed=3)
    with torch.no_grad():
        gap = (vit(x) - vit(base)).gather(1, targets[:, None])[:, 0].double().numpy()
    sums = values(maps, seg).sum(1)
    assert np.allclose(sums, gap, atol=1e-5, rtol=0), (sums, gap)


def test_agrees_with_shap_kernel_explainer(vit, exact):
    shap = pytest.importorskip("shap")
    x, seg, phi = exact
    b = 1
    base = torch.zeros_like(x[b])

    def f(z: np.ndarray) -> np.ndarray:
        keep = torch.from_numpy(z > 0.5)[:, seg[b]][:, None]
        with torch.no_grad():
            return vit(torch.where(keep, x[b], base)).double()[:, int(TARGETS[b])].numpy()

    explainer = shap.KernelExplainer(f, np.zeros((1, 9)))
    exhaustive = explainer.shap_values(np.ones((1, 9)), nsamples=2**9 - 2, l1_reg=False, silent=True)[0]
    ours = values(shap_maps(vit, x[b : b + 1], TARGETS[b : b + 1], EVALS, segmentation=GRID9, n_samples=510), seg[b : b + 1])[0]
    assert np.allclose(ours, exhaustive, atol=1e-5, rtol=1e-4)
    # at a budget that samples, both are close to the exact values and ours is no worse on average
    ours_err, shap_err = [], []
    for seed in range(4):
        np.random.seed(seed)
        sampled = explainer.shap_values(np.ones((1, 9)), nsamples=80, l1_reg=False, silent=True)[0]
        mine = values(shap_maps(vit, x[b : b + 1], TARGETS[b : b + 1], EVALS, segmentation=GRID9, n_samples=80, seed=seed),
                      seg[b : b + 1])[0]
        shap_err.append(np.linalg.norm(sampled - phi[b]))
        ours_err.append(np.linalg.norm(mine - phi[b]))
    assert np.mean(ours_err) <= 1.1 * np.mean(shap_err), (ours_err, shap_err)
    assert max(ours_err) < 0.2 * np.linalg.norm(phi[b])


def test_deterministic_and_independent_of_chunks_and_batches(vit):
    x = digits(vit, n=3, start=10)
    kw = dict(segmentation={"name": "slic", "n_segments": 20}, n_samples=60, seed=5)
    a = shap_maps(vit, x, TARGETS, EVALS, **kw)
    assert torch.equal(a, shap_maps(vit, x, TARGETS, EVALS, **kw))
    assert torch.allclose(a, shap_maps(vit, x, TARGETS, 7, **kw), atol=1e-5)
    assert torch.allclose(a[1:2], shap_maps(vit, x[1:2], TARGETS[1:2], EVALS, **kw), atol=1e-5)
    assert not torch.allclose(a, shap_maps(vit, x, TARGETS, EVALS, **{**kw, "seed": 6}), atol=1e-5)


@pytest.mark.parametrize("evals", [1, 7, 50])
def test_the_evaluation_budget_bounds_every_forward_pass(vit, evals):
    x, sizes = digits(vit, n=2, start=10), []
    handle = vit.register_forward_pre_hook(lambda _m, args: sizes.append(len(args[0])))
    try:
        shap_maps(vit, x, TARGETS[:2], evals, segmentation=GRID9, n_samples=40)
    finally:
        handle.remove()
    assert max(sizes) == evals and sum(sizes) == 2 * (40 + 2)  # every coalition, the empty and the full one


def test_no_gradients_and_model_agnostic():
    resnet = model("resnet")
    x = digits(resnet, n=2)
    maps = shap_maps(resnet, x, TARGETS[:2], EVALS, segmentation={"name": "grid", "cells": 2}, n_samples=14)
    assert torch.isfinite(maps).all() and maps.abs().sum() > 0
    assert all(p.grad is None for p in resnet.parameters())
    clf = DigitsLogReg()
    x = digits(clf, n=2, start=20)
    maps = shap_maps(clf, x, torch.tensor([0, 1]), EVALS, segmentation={"name": "grid", "cells": 4}, n_samples=40,
                      output="raw")
    assert torch.isfinite(maps).all() and maps.abs().sum() > 0


def test_parameters_are_validated_with_one_line_naming_the_field():
    with pytest.raises(ValueError, match=r"^cfg: n_samples: 80 is too few for 50 segments of slic; use n_samples >= 100"):
        METHODS.check_params("kernelshap", {"n_samples": 80}, "cfg")
    with pytest.raises(ValueError, match=r"^cfg: n_samples: 30 is too few for 16 segments"):
        METHODS.check_params("kernelshap", {"n_samples": 30, "segmentation": {"name": "grid", "cells": 4}}, "cfg")
    with pytest.raises(ValueError, match=r"^cfg\.segmentation: Input tag 'watershed'"):
        METHODS.check_params("kernelshap", {"segmentation": "watershed"}, "cfg")
    with pytest.raises(ValueError, match=r"^cfg\.baseline: Input should be 'zero', 'black', 'blur' or 'noise'"):
        METHODS.check_params("kernelshap", {"baseline": "mean"}, "cfg")
    thesis = METHODS.check_params("kernelshap", {"segmentation": {"name": "slic", "n_segments": 50}, "n_samples": 350,
                                                 "baseline": "zero"}, "cfg")
    assert thesis == METHODS.check_params("kernelshap", {}, "cfg")  # the defaults are the thesis' settings
    assert thesis["segmentation"] == {"name": "slic", "n_segments": 50, "compactness": 10.0, "sigma": 0.0,
                                      "convert2lab": True}


def test_images_the_samples_do_not_determine_are_flagged_and_counted(vit, exact):
    """Called directly (the config check refuses n_samples < 2 x the segments), 8 coalitions cannot
    determine 9 segments: every image is flagged (the driver counts the flags in the file's metadata,
    the outcomes table and the summary list them); 18 determine them."""
    from xaisim.driver import map_counts

    x, _, _ = exact
    few = kernelshap(vit, x, TARGETS[:2], EVALS, segmentation=GRID9, n_samples=8)
    enough = kernelshap(vit, x, TARGETS[:2], EVALS, segmentation=GRID9, n_samples=18)
    assert few.extras["undetermined"].tolist() == [True, True] and not enough.extras["undetermined"].any()
    assert np.isfinite(few.maps.numpy()).all() and map_counts(few.maps.numpy())["zero_maps"] == 0
