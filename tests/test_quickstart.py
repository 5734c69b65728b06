"""Properties of the shipped quickstart config that the issue sets numbers for."""

from pathlib import Path

import pytest
import torch
import yaml

from xaisim import models
from xaisim.explain.gradcam import gradcam_native

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
GRADCAM = next(m for m in CONFIG["methods"] if m["method"] == "gradcam")


def test_quickstart_has_three_cnns_and_three_transformers_and_explains_64_images():
    from xaisim.families import family

    families = [family(m) for m in CONFIG["models"]]
    assert families.count("cnn") >= 3 and families.count("transformer") >= 3
    assert CONFIG["data"]["explain_images"] >= 64


@pytest.mark.parametrize("entry", CONFIG["models"], ids=lambda m: m["name"])
def test_quickstart_gradcam_maps_are_at_least_4x4_natively(entry):
    spec = models.build_spec(entry)
    model = models.create(spec, num_classes=10).eval()
    size = models.data_config(model, spec, CONFIG["data"]["image_size"])["input_size"][1]
    params = {**GRADCAM.get("params", {}), **entry.get("methods", {}).get(GRADCAM["name"], {})}
    cam = gradcam_native(model, torch.randn(1, 3, size, size), torch.tensor([0]), **params)
    assert min(cam.shape[-2:]) >= 4
