from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def train_settings(**keys) -> dict:
    """Training settings as the workflow makes them: the schema's defaults with ``keys`` replaced."""
    import yaml
    from snakemake.utils import validate

    from xaisim.train import settings

    config = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    config["train"] = {}
    validate(config, str(REPO / "schemas" / "config.schema.yaml"))
    return settings(config["train"], keys)


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


@pytest.fixture(scope="session")
def run(tmp_path_factory) -> Path:
    """One real run of configs/tiny.yaml, shared by tests/test_workflow.py and tests/test_caching.py."""
    from test_workflow import snakemake

    workdir = tmp_path_factory.mktemp("tiny")
    snakemake(workdir)
    return workdir
