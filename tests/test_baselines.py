import numpy as np
import pytest
import timm
import torch
from scipy import ndimage
from torchvision.transforms import Normalize

from xaisim.explain.baselines import make_baseline, mean_std

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def _pixels(seed=0, shape=(3, 3, 20, 24)):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def test_zero_and_black_are_normalised_constants():
    x = Normalize(MEAN, STD)(_pixels())
    assert (make_baseline(x, "zero", mean=MEAN, std=STD) == 0).all()
    black = make_baseline(x, "black", mean=MEAN, std=STD)
    torch.testing.assert_close(black, Normalize(MEAN, STD)(torch.zeros_like(x)))


def test_blur_equals_scipy_gaussian_filter_of_the_pixels_normalised():
    pixels = _pixels(1)
    blurred = make_baseline(Normalize(MEAN, STD)(pixels), "blur", mean=MEAN, std=STD, blur_sigma=2.0)
    ref = ndimage.gaussian_filter(pixels.double().numpy(), sigma=(0, 0, 2, 2), mode="mirror", truncate=3.0)
    torch.testing.assert_close(blurred, Normalize(MEAN, STD)(torch.from_numpy(ref).float()), atol=1e-5, rtol=1e-5)
    # A sigma wider than the image still works (kernel capped by the image size) and keeps constants.
    flat = torch.full((1, 3, 8, 8), 0.7)
    torch.testing.assert_close(make_baseline(flat, "blur", mean=MEAN, std=STD, blur_sigma=50.0), flat)


def test_noise_is_seeded_shared_by_the_batch_and_scaled():
    x = torch.zeros(4, 3, 32, 32)
    a = make_baseline(x, "noise", mean=MEAN, std=STD, seed=3, noise_std=0.5)
    b = make_baseline(x[:1], "noise", mean=MEAN, std=STD, seed=3, noise_std=0.5)
    assert torch.equal(a[0], b[0]) and torch.equal(a[0], a[3])
    assert not torch.equal(a, make_baseline(x, "noise", mean=MEAN, std=STD, seed=4, noise_std=0.5))
    assert abs(float(a[0].std()) - 0.5) < 0.05


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="mean"):
        make_baseline(torch.zeros(1, 1, 4, 4), "black", mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="unknown baseline 'grey'"):
        make_baseline(torch.zeros(1, 3, 4, 4), "grey", mean=MEAN, std=STD)


def test_mean_std_comes_from_the_timm_data_config():
    model = timm.create_model("vit_tiny_patch16_224", depth=1, embed_dim=32, num_heads=2, img_size=32)
    mean, std = mean_std(model)
    assert np.allclose(mean, model.pretrained_cfg["mean"]) and np.allclose(std, model.pretrained_cfg["std"])
