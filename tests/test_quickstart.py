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


def test_quickstart_family_test_can_reach_p_below_005_and_explains_64_images():
    from xaisim.families import family
    from xaisim.statistics.permutation import label_assignments

    families = [family(m) for m in CONFIG["models"]]
    assert families.count("cnn") >= 4 and families.count("transformer") >= 4
    # the family test enumerates every labelling: its floor is 2 / (number of labellings), below 0.05
    assert 2 / label_assignments(families, 10**6, 0).total < 0.05
    assert CONFIG["data"]["explain_images"] >= 64


@pytest.mark.parametrize("entry", CONFIG["models"], ids=lambda m: m["name"])
def test_quickstart_gradcam_maps_are_at_least_4x4_natively(entry):
    spec = models.build_spec(entry)
    model = models.create(spec, num_classes=10).eval()
    size = models.data_config(model, spec, CONFIG["data"]["image_size"])["input_size"][1]
    params = {**GRADCAM.get("params", {}), **entry.get("methods", {}).get(GRADCAM["name"], {})}
    cam = gradcam_native(model, torch.randn(1, 3, size, size), torch.tensor([0]), **params)
    assert min(cam.shape[-2:]) >= 4
