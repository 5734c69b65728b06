import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from xaisim import models


def test_unknown_architecture_names_similar_ones():
    with pytest.raises(ValueError, match="unknown timm architecture 'resnet19'; similar: .*resnet18"):
        models.check_arch("resnet19")
    models.check_arch("resnet18d.ra2_in1k")


def test_pretrained_file_loads_through_timm_and_replaces_the_head(tmp_path):
    torch.manual_seed(0)
    source = models.create({"arch": "resnet10t"}, num_classes=1000)
    path = tmp_path / "weights.safetensors"
    save_file(source.state_dict(), str(path))
    spec = {"arch": "resnet10t", "pretrained_file": str(path)}
    model = models.create(spec, num_classes=7)
    assert model.get_classifier().out_features == 7
    assert torch.equal(model.conv1[0].weight, source.conv1[0].weight)
    assert torch.equal(model.layer4[0].conv1.weight, source.layer4[0].conv1.weight)
    fresh = models.create(spec, num_classes=7, pretrained=False)
    assert not torch.equal(fresh.conv1[0].weight, source.conv1[0].weight)


def test_eval_transform_squashes_without_crop_and_uses_timm_normalisation():
    model = models.create({"arch": "resnet10t"}, num_classes=3)
    cfg = models.data_config(model, {"arch": "resnet10t"}, image_size=40)
    assert cfg["input_size"] == (3, 40, 40)
    assert cfg["mean"] == pytest.approx((0.485, 0.456, 0.406))
    image = Image.new("RGB", (80, 20), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 10, 20))  # a black strip at the far left survives only without a crop
    x = models.transform(cfg, train=False)(image)
    assert x.shape == (3, 40, 40)
    black = (0 - cfg["mean"][0]) / cfg["std"][0]
    assert x[0, :, 0].allclose(torch.full((40,), black), atol=0.05)


def test_model_input_size_overrides_the_image_size():
    spec = {"arch": "vit_tiny_patch16_224", "input_size": 32, "kwargs": {"img_size": 32, "patch_size": 8, "depth": 1}}
    model = models.create(spec, num_classes=3)
    assert models.data_config(model, spec, image_size=64)["input_size"] == (3, 32, 32)


def test_trained_weights_round_trip(tmp_path):
    from safetensors.torch import save_model

    spec = {"arch": "resnet10t"}
    model = models.create(spec, num_classes=4).eval()
    save_model(model, str(tmp_path / "w.safetensors"))
    back = models.load_trained(spec, tmp_path / "w.safetensors", num_classes=4)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(model(x), back(x)) and not back.training


def test_hub_weights_offline_fail_with_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RuntimeError, match=r"cannot load pretrained weights of resnet18.a1_in1k from the hub .*pretrained_file"):
        models.create({"arch": "resnet18.a1_in1k", "pretrained": True}, num_classes=3)


def test_a_corrupt_pretrained_file_is_named(tmp_path):
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"not weights")
    with pytest.raises(RuntimeError, match=r"cannot load pretrained weights of resnet10t from .*w.safetensors"):
        models.create({"arch": "resnet10t", "pretrained_file": str(bad)}, num_classes=3)


def test_the_probe_builds_on_the_cpu_where_a_constructor_needs_real_tensors(monkeypatch):
    """The config check's network probe: meta device first (no memory), the CPU where the constructor
    fails there (e.g. a `.item()` in __init__); the shapes are the same."""
    real = models.timm.create_model

    def needs_real_tensors(*args, **kwargs):
        if torch.empty(0).device.type == "meta":
            raise RuntimeError("Tensor.item() cannot be called on meta tensors")
        return real(*args, **kwargs)

    spec = {"arch": "resnet10t", "kwargs": {"output_stride": 8}}
    on_meta = models.probe(spec, 32, ("layer4",))
    assert models.meta_network(spec).layer4[0].conv1.weight.is_meta
    monkeypatch.setattr(models.timm, "create_model", needs_real_tensors)
    spec = {"arch": "resnet10t", "kwargs": {"output_stride": 8, "drop_rate": 0.0}}  # not cached
    assert models.probe(spec, 32, ("layer4",)) == on_meta == ((1, 1000), (1, 512, 4, 4))
    assert not models.meta_network(spec).layer4[0].conv1.weight.is_meta
