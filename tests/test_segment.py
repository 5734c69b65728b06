"""Superpixel segmentations: labels, grid geometry, validation, independence of the normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from perturbation_data import DigitsLogReg, digits, model
from pydantic import ValidationError

from xaisim.explain.segment import parse, segment, to_pixels


@pytest.mark.parametrize("spec", ["slic", "quickshift", "felzenszwalb", {"name": "grid", "cells": 5},
                                  {"name": "slic", "n_segments": 25, "compactness": 0.1, "convert2lab": False},
                                  {"name": "felzenszwalb", "scale": 10, "min_size": 5}])
def test_every_segmentation_gives_labels_0_to_s_minus_1(spec):
    pixels = to_pixels(model("vit"), digits(model("vit"), n=3))
    labels = segment(pixels, spec)
    assert labels.shape == (3, 32, 32) and labels.dtype == torch.int64
    for lab in labels:
        assert (lab.unique() == torch.arange(int(lab.max()) + 1)).all()
    assert int(labels[0].max()) >= 1  # a digit is more than one segment


def test_grid_cells_are_equal_rectangles():
    labels = segment(np.zeros((1, 32, 48, 3), np.uint8), {"name": "grid", "cells": 4})[0]
    assert int(labels.max()) == 15
    assert (labels[:8, :12] == 0).all() and (labels[-8:, -12:] == 15).all() and (labels.flatten().bincount() == 96).all()


def test_segments_do_not_depend_on_the_models_normalisation():
    vit, clf = model("vit"), DigitsLogReg()  # timm's ViT normalises with 0.5/0.5, the wrapper with ImageNet's
    a, b = to_pixels(vit, digits(vit)), to_pixels(clf, digits(clf))
    assert (a == b).all()
    assert torch.equal(segment(a, "slic"), segment(b, "slic"))


def test_specs_validate_names_and_ranges():
    assert parse("grid") == parse({"name": "grid", "cells": 7})
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        parse("watershed")
    with pytest.raises(ValidationError, match="greater than or equal to 2"):
        parse({"name": "slic", "n_segments": 1})
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        parse({"name": "quickshift", "ratio": 2})
