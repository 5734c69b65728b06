"""Faithfulness (deletion and insertion against a random order): the statistic's CPU cost on a
finished run's trained models, per model and in all, at the config's settings.

    .venv/bin/python bench/faithfulness.py [config.yaml] [results-dir]

The maps are seeded random maps at each map method's grid (the cost does not depend on what a map
says: 4 x (steps + 1) forwards per image, model and map method), written beside the timings under
a temporary folder; the run's weights, predictions and explained subset are read, never written.
One torch thread, as the 2-core quickstart's statistics jobs get.
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

from xaisim.config import check_schema, resolve, statistics_settings
from xaisim.io import save_arrays
from xaisim.statistics.faithfulness import explanation_rows


def main(config_path: str = "config.yaml", results: str = "results") -> None:
    torch.set_num_threads(1)
    config = yaml.safe_load(Path(config_path).read_text())
    schema = Path(__file__).parents[1] / "schemas" / "config.schema.yaml"
    check_schema(config, schema)
    validate(config, str(schema))  # fills in the schema's defaults
    resolved, settings = resolve(config), statistics_settings(config)["faithfulness"]
    from xaisim.driver import load

    r = Path(results)
    map_methods = [m for m in config["methods"] if m["method"] in ("gradcam", "integrated_gradients", "kernelshap",
                                                                    "lime", "saliency", "rollout", "lrp")]
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, entry in resolved["models"].items():
            e = load(str(r / "data/index.csv"), str(r / "data/explain.csv"), str(r / f"predictions/{name}.csv"),
                     entry["spec"], str(r / f"models/{name}/weights.safetensors"),
                     image_size=entry["spec"].get("input_size") or config["data"]["image_size"], target="pred", seed=0,
                     device=torch.device("cpu"))
            rows = e.rows.head(settings["images"])
            x = e.images(rows, len(rows), torch.device("cpu"))
            start = time.process_time()
            for m in map_methods:
                grid = (4, 4) if m["method"] == "gradcam" else tuple(x.shape[-2:])
                path = f"{tmp}/{m['name']}_{name}.st"
                maps = np.random.default_rng(0).normal(size=(len(rows), *grid)).astype(np.float32)
                save_arrays(path, {"maps": maps, "targets": e.targets[: len(rows)].numpy()},
                            {"model": name, "method": m["name"], "image_ids": list(rows["image_id"])})
                explanation_rows(e.model, x, path, entry["methods"][m["name"]], images=len(rows), steps=settings["steps"],
                                 baseline=settings["baseline"], seed=0, batch=64)
            spent = time.process_time() - start
            total += spent
            print(f"{name:12s} {len(map_methods)} methods x {len(rows)} images: {spent:6.1f} CPU-s")
    print(f"total {total:.1f} CPU-s (steps {settings['steps']}, images {settings['images']}, baseline {settings['baseline']})")


if __name__ == "__main__":
    main(*sys.argv[1:])
