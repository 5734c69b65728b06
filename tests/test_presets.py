"""The thesis preset's GradCAM layers resolve on each architecture with the thesis' 7x7 / 14x14 grids.

Models are built on the meta device (shapes only, no weights, no hub): one forward per model at
224 px costs no compute, so the 14 architectures take seconds.
"""

import pytest
import timm
import torch
import yaml

from xaisim.explain.gradcam import activation_to_nchw, resolve_layer

GRIDS = {"DeiT_S": 14, "DeiT_T": 14}  # every other thesis model: 7x7


def _preset(repo):
    config = yaml.safe_load((repo / "configs/imagenette2.yaml").read_text())
    return [(m["name"], m["arch"].split(".")[0], m["methods"]["GradCAM"]) for m in config["models"]]


def test_preset_gradcam_layers_resolve_with_the_thesis_grids(repo):
    preset = _preset(repo)
    assert len(preset) == 14
    for name, arch, params in preset:
        with torch.device("meta"):
            model = timm.create_model(arch, pretrained=False, num_classes=10).eval()
            path, module, num_chs = resolve_layer(model, params["layer"])
            assert path == params["layer"]
            seen: list[torch.Tensor] = []
            handle = module.register_forward_hook(lambda _m, _a, out, seen=seen: seen.append(out))
            try:
                model(torch.empty(1, 3, 224, 224))
            finally:
                handle.remove()
            grid = activation_to_nchw(seen[0], model, num_chs, (224, 224)).shape[-2:]
        side = GRIDS.get(name, 7)
        assert tuple(grid) == (side, side), f"{name}: {params['layer']} gives {tuple(grid)}"
        for row, col in params.get("fill_cells", []):
            assert 0 <= row < side and 0 <= col < side


@pytest.mark.parametrize("depth", [0.25, 0.5, 0.75, 1.0])
def test_depth_resolves_on_every_preset_architecture(repo, depth):
    for _, arch, _ in _preset(repo)[:: 4]:
        with torch.device("meta"):
            model = timm.create_model(arch, pretrained=False, num_classes=10)
        assert resolve_layer(model, depth=depth)[0]
