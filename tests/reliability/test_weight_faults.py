"""Weights that do not fit the architecture fail, naming the file and the keys; none leave layers random."""

import pytest
import torch
from safetensors.torch import save_file

from xaisim import models


def _save(tmp_path, state, name="w.safetensors"):
    path = tmp_path / name
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return str(path)


def test_another_architectures_weights_fail_naming_file_and_shapes(tmp_path):
    path = _save(tmp_path, models.create({"arch": "resnet18"}, num_classes=1000).state_dict())
    with pytest.raises(RuntimeError, match=r"from pretrained_file .*w\.safetensors \(RuntimeError: .*size mismatch for \S+"):
        models.create({"arch": "resnet10t", "pretrained_file": path}, num_classes=3)


def test_a_file_with_half_its_keys_fails_instead_of_leaving_layers_random(tmp_path):
    state = models.create({"arch": "resnet10t"}, num_classes=1000).state_dict()
    path = _save(tmp_path, {k: v for k, v in state.items() if not k.startswith("layer4")})
    with pytest.raises(RuntimeError, match=r"weights in .*w\.safetensors do not fit resnet10t: \d+ missing key\(s\) \(layer4"):
        models.create({"arch": "resnet10t", "pretrained_file": path}, num_classes=3)


def test_extra_keys_fail_and_a_replaced_head_alone_is_fine(tmp_path):
    state = models.create({"arch": "resnet10t"}, num_classes=1000).state_dict()
    extra = _save(tmp_path, {**state, "adapter.weight": torch.zeros(2)}, "extra.safetensors")
    with pytest.raises(RuntimeError, match=r"1 unexpected key\(s\) \(adapter\.weight\)"):
        models.create({"arch": "resnet10t", "pretrained_file": extra}, num_classes=3)
    fine = models.create({"arch": "resnet10t", "pretrained_file": _save(tmp_path, state)}, num_classes=3)
    assert torch.equal(fine.layer4[0].conv1.weight, state["layer4.0.conv1.weight"])


def test_a_kept_head_must_come_from_the_file(tmp_path):
    # epochs 0 keeps the head: a 1000-class file with kwargs.num_classes 3 would explain a random head
    path = _save(tmp_path, models.create({"arch": "resnet10t"}, num_classes=1000).state_dict())
    spec = {"arch": "resnet10t", "pretrained_file": path, "kwargs": {"num_classes": 3}}
    with pytest.raises(RuntimeError, match=r"missing key\(s\) \(fc\.weight, fc\.bias\).*head is not trained"):
        models.create(spec, num_classes=None)
    kept = models.create({"arch": "resnet10t", "pretrained_file": path}, num_classes=None)
    assert kept.num_classes == 1000


class _Planted:
    """A pickle that would create ``marker`` when unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pth_whose_pickle_would_run_code_is_refused_without_running_it(tmp_path):
    marker, path = tmp_path / "ran", tmp_path / "w.pth"
    torch.save({"conv1.weight": _Planted(marker)}, path)
    with pytest.raises(RuntimeError, match=r"cannot load pretrained weights of resnet10t from pretrained_file .*w\.pth "
                                           r"\(RuntimeError: weights_only=True blocked loading.*io\.open"):
        models.create({"arch": "resnet10t", "pretrained_file": str(path)}, num_classes=3)
    assert not marker.exists()
