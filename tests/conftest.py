from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def _schema_filled(**sections) -> dict:
    """The tiny config with ``sections`` replaced and the schema's defaults filled in, as the workflow does."""
    import yaml
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    config.update(sections)
    validate(config, str(REPO / "schemas" / "config.schema.yaml"))
    return config


def train_settings(**keys) -> dict:
    """Training settings as the workflow makes them: the schema's defaults with ``keys`` replaced."""
    from xaisim.train import settings

    return settings(_schema_filled(train={})["train"], keys)


def cluster_settings(**keys) -> dict:
    """The ``cluster`` section as the workflow makes it: the schema's defaults with ``keys`` replaced."""
    return _schema_filled(cluster=dict(keys))["cluster"]


def make_imagefolder(root: Path, classes=("cat", "dog"), per_split=(4, 2), size=16, seed=0) -> Path:
    """A tiny Imagenette-like folder: root/{train,val}/<class>/<n>.png with class-dependent colour."""
    rng = np.random.default_rng(seed)
    for split, n in zip(("train", "val"), per_split):
        for c, name in enumerate(classes):
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
                pixels[..., c % 3] += 150
                Image.fromarray(pixels).save(d / f"{name}_{i}.png")
    return root


@pytest.fixture
def imagefolder(tmp_path: Path) -> Path:
    return make_imagefolder(tmp_path / "folder")


@pytest.fixture
def explain_inputs(tmp_path: Path, imagefolder: Path) -> Path:
    """What the explain driver reads, in ``tmp_path``: index.csv, subset.csv (the val split),
    pred.csv (predictions = labels) and the weights of a random 2-class resnet10t (w.safetensors)
    and of a logistic regression on 16 px images (lr.safetensors)."""
    import pandas as pd
    import timm
    import torch
    from safetensors.torch import save_model

    from xaisim import classical

    rows = []
    for p in sorted(imagefolder.rglob("*.png")):
        split, cls = p.parent.parent.name, p.parent.name
        rows.append(dict(image_id=p.stem, path=str(p.relative_to(tmp_path)), label=["cat", "dog"].index(cls),
                         class_name=cls, split=split))
    index = pd.DataFrame(rows)
    index.to_csv(tmp_path / "index.csv", index=False)
    val = index[index.split == "val"]
    val[["image_id"]].to_csv(tmp_path / "subset.csv", index=False)
    val.assign(pred=val.label)[["image_id", "label", "pred"]].to_csv(tmp_path / "pred.csv", index=False)
    torch.manual_seed(0)
    save_model(timm.create_model("resnet10t", num_classes=2), str(tmp_path / "w.safetensors"))
    x, y = np.random.default_rng(0).random((8, 3 * 16 * 16)), np.arange(8) % 2
    classical.save(classical.estimator("logreg").fit(x, y), str(tmp_path / "lr.safetensors"), {})
    return tmp_path


@pytest.fixture(scope="session")
def run(tmp_path_factory) -> Path:
    """One real run of configs/tiny.yaml, shared by tests/test_workflow.py and tests/test_caching.py."""
    from test_workflow import snakemake

    workdir = tmp_path_factory.mktemp("tiny")
    snakemake(workdir)
    return workdir
