"""A training run that diverges stops, naming the model and the epoch, and saves nothing."""

import pytest
from conftest import train_settings

from xaisim.index import digits_index, write_index
from xaisim.runtime import get_device, setup
from xaisim.train import train_model


@pytest.mark.parametrize("lr", [float("inf"), 1e30])
def test_a_loss_that_becomes_nan_or_inf_fails_naming_the_model_and_epoch(tmp_path, lr):
    setup(seed=0, threads=1)
    write_index(digits_index(tmp_path, image_size=16, val_fraction=0.2, seed=0), tmp_path / "index.csv")
    weights, metrics = tmp_path / "w.safetensors", tmp_path / "m.json"
    with pytest.raises(FloatingPointError, match=r"model 'tiny': the training loss became (nan|inf) in epoch \d"):
        train_model(str(tmp_path / "index.csv"), {"name": "tiny", "arch": "resnet10t"},
                    train_settings(epochs=2, batch_size=256, lr=lr, schedule="constant"),
                    image_size=16, seed=0, device=get_device("cpu"), amp=False,
                    weights_path=str(weights), metrics_path=str(metrics))
    assert not weights.exists() and not metrics.exists()
