"""Cross-model deletion: the statistic's CPU cost at a config's models, map methods and settings.

    .venv/bin/python bench/cross_deletion.py [config.yaml]

Needs no finished run: the config's networks are built untrained (a forward costs the same), the
images are seeded noise at each model's input size and the maps seeded random maps at each map
method's grid (the cost does not depend on what a map says: per evaluated model and map method,
images x ((models + 1) x fractions + 1) forwards). One torch thread, as the 2-core quickstart's
statistics jobs get; the time excludes loading (about 6 s of imports per job on top).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from snakemake.utils import validate

from xaisim import models
from xaisim.config import check_schema, resolve, statistics_settings
from xaisim.io import save_arrays
from xaisim.statistics.cross_deletion import cross_rows

MAP_METHODS = ("gradcam", "integrated_gradients", "kernelshap", "lime", "saliency", "rollout", "lrp")


def main(config_path: str = "config.yaml") -> None:
    torch.set_num_threads(1)
    config = yaml.safe_load(Path(config_path).read_text())
    schema = Path(__file__).parents[1] / "schemas" / "config.schema.yaml"
    check_schema(config, schema)
    validate(config, str(schema))  # fills in the schema's defaults
    resolved, settings = resolve(config), statistics_settings(config)["cross_deletion"]
    n, classes = settings["images"], 10
    methods = [m for m in config["methods"] if m["method"] in MAP_METHODS]
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for m in methods:
            for name in resolved["models"]:
                grid = (4, 4) if m["method"] == "gradcam" else (32, 32)
                files[m["name"], name] = path = f"{tmp}/{m['name']}_{name}.st"
                maps = np.random.default_rng(0).normal(size=(n, *grid)).astype(np.float32)
                save_arrays(path, {"maps": maps, "targets": np.zeros(n, np.int64)},
                            {"model": name, "method": m["name"], "image_ids": [str(i) for i in range(n)]})
        for k, (name, entry) in enumerate(resolved["models"].items()):
            model = models.create(entry["spec"], classes, pretrained=False).eval()
            size = entry["spec"].get("input_size") or config["data"]["image_size"]
            x = torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(k))
            targets = model(x).argmax(1).detach()
            start = time.process_time()
            for m in methods:
                cross_rows(model, x, targets, {a: files[m["name"], a] for a in resolved["models"]},
                           entry["methods"][m["name"]], fractions=settings["fractions"], baseline=settings["baseline"],
                           rng=np.random.default_rng(k), batch=64, warn=False)
            spent = time.process_time() - start
            total += spent
            print(f"{name:12s} evaluated under {len(methods)} methods x {len(resolved['models'])} explainers: {spent:6.1f} CPU-s")
    print(f"total {total:.1f} CPU-s (images {n}, fractions {settings['fractions']}, baseline {settings['baseline']})")


if __name__ == "__main__":
    main(*sys.argv[1:])
