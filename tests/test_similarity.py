import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import cosine_similarity, rbf_kernel

from xaisim.io import save_arrays
from xaisim.similarity import METRICS, cosine, per_image, rbf, summarise


def _maps(m=3, b=5, d=36, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).random((m, b, d))).double()


def test_cosine_matches_sklearn_per_image_and_zero_maps_give_zero():
    maps = _maps()
    maps[1, 2] = 0
    sims = cosine(maps)
    for i in range(maps.shape[1]):
        np.testing.assert_allclose(sims[i], cosine_similarity(maps[:, i].numpy()), atol=1e-12)
    assert (sims[2, 1] == 0).all() and (sims[2, :, 1] == 0).all()
    assert sims[0].diagonal().allclose(torch.ones(3, dtype=torch.double))


def test_rbf_matches_sklearn_kernel():
    maps = _maps()
    sigma = 1.7
    sims = rbf(maps, sigma=sigma)
    for i in range(maps.shape[1]):
        np.testing.assert_allclose(sims[i], rbf_kernel(maps[:, i].numpy(), gamma=1 / (2 * sigma**2)), atol=1e-10)


def test_summaries_use_the_unbiased_std_and_the_thesis_distance():
    sims = np.random.default_rng(1).random((6, 3, 3))
    s = summarise(sims)
    np.testing.assert_allclose(s["std"], np.std(sims, axis=0, ddof=1))
    np.testing.assert_allclose(s["distance"], np.hypot(1 - sims.mean(0), np.std(sims, axis=0, ddof=1)))


@pytest.mark.parametrize("chunk", [1, 2, 7, 100])
def test_streamed_per_image_similarity_equals_the_whole_computation(tmp_path, chunk):
    rng = np.random.default_rng(2)
    maps = rng.random((3, 7, 4, 4)).astype(np.float32)
    ids = [f"img{i}" for i in range(7)]
    paths = []
    for m in range(3):
        paths.append(tmp_path / f"m{m}.safetensors")
        save_arrays(paths[-1], {"maps": maps[m]}, {"image_ids": ids})
    sims, got_ids = per_image([str(p) for p in paths], "cosine", {}, chunk)
    assert got_ids == ids and sims.shape == (7, 3, 3)
    np.testing.assert_allclose(sims, cosine(torch.from_numpy(maps).double().flatten(2)).numpy(), atol=1e-12)


def test_files_for_different_images_are_refused(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_arrays(a, {"maps": np.zeros((2, 3, 3), np.float32)}, {"image_ids": ["x", "y"]})
    save_arrays(b, {"maps": np.zeros((2, 3, 3), np.float32)}, {"image_ids": ["x", "z"]})
    with pytest.raises(ValueError, match="images or map size differ"):
        per_image([str(a), str(b)], "cosine", {}, 4)


def test_metric_params_are_checked_against_the_signature():
    METRICS.check_params("rbf", {"sigma": 3}, "metrics[1]")
    with pytest.raises(ValueError, match=r"metrics\[1\]: unknown parameter\(s\) \['gamma'\]"):
        METRICS.check_params("rbf", {"gamma": 3}, "metrics[1]")
    with pytest.raises(ValueError, match="unknown similarity metric 'ssim2'"):
        METRICS.check_params("ssim2", {}, "metrics[0]")
