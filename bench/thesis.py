"""The thesis preset (configs/imagenette2.yaml) rehearsed offline, through the real CLI.

    .venv/bin/python bench/thesis.py [--work DIR] [--images 1] [--models ResNet18 DeiT_T ...]
                                     [--methods GradCAM ...] [--quick] [--cores 2] [--out table.csv]

Stand-ins for what the preset downloads: random-init 1000-class weights of each architecture
(``timm.create_model(arch, pretrained=False)``, saved as safetensors and given as
``pretrained_file``) and an imagefolder of the real photos scikit-image and scikit-learn ship
(two classes). The override config keeps the preset's models, GradCAM layers, method settings,
metrics, statistics and memory budget; it changes the data, the weights (``train.epochs: 0``, the
1000-class head kept, maps for the predicted class), the explained image count and the device (CPU).
``--quick`` also cuts KernelSHAP to 100 coalitions and IG to 16 steps (the CI subset);
``--no-model-statistics`` turns off the statistics that explain again (sanity, faithfulness, random logit).

Prints per rule x model x method: wall and CPU seconds and peak RSS (Snakemake's benchmark files),
the start cost before the first forward (the ``xaisim.start`` log line), the job's SLURM ``mem_mb``
(``explain.memory_mb`` + the job overhead) against its peak RSS, and the projected explain-stage time
of the real study at 128 and 256 images on this machine: per job, start + (time - start) / images x n, for
wall and for CPU time (a loaded machine's wall time overstates it).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from xaisim.workflow import JOB_OVERHEAD_MB

REPO = Path(__file__).resolve().parents[1]
PRESET = REPO / "configs" / "imagenette2.yaml"
PROJECTED = (128, 256)
START = re.compile(r"xaisim\.start: start cost before the first forward \([^)]*\): ([\d.]+) s wall, ([\d.]+) s CPU")


def photos(root: Path) -> Path:
    """An imagefolder (train/ and val/, classes ``a`` and ``b``) of the sample photos scikit-image and
    scikit-learn ship, as RGB PNGs; made once."""
    from PIL import Image
    from skimage import data
    from sklearn.datasets import load_sample_images

    if (root / "val").is_dir():
        return root
    images = {name: getattr(data, name)() for name in
              ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "colorwheel", "retina")}
    images |= dict(zip(("china", "flower"), load_sample_images().images))
    for k, (name, pixels) in enumerate(images.items()):
        split = "train" if k < 4 else "val"
        folder = root / split / "ab"[k % 2]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(pixels, dtype=np.uint8)).convert("RGB").save(folder / f"{name}.png")
    return root


def weights(arch: str, root: Path) -> Path:
    """Random-init 1000-class weights of ``arch`` as safetensors (made once)."""
    import timm
    from safetensors.torch import save_file

    path = root / f"{arch}.safetensors"
    if not path.is_file():
        root.mkdir(parents=True, exist_ok=True)
        model = timm.create_model(arch, pretrained=False)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def override(preset: dict, work: Path, *, images: int, models: list[str] | None, methods: list[str] | None,
             quick: bool, model_statistics: bool = True) -> dict:
    """The preset with offline data and weights, ``images`` explained images, on the CPU."""
    config = yaml.safe_load(yaml.safe_dump(preset))
    known = {m["name"]: m for m in config["models"]}
    for kind, chosen, names in (("model", models, known), ("method", methods, {m["name"] for m in config["methods"]})):
        unknown = sorted(set(chosen or ()) - set(names))
        if unknown:
            raise SystemExit(f"bench/thesis.py: --{kind}s {unknown} are not in {PRESET.name}; choose from {sorted(names)}")
    config["models"] = [
        {**{k: v for k, v in m.items() if k != "pretrained"}, "pretrained_file": str(weights(m["arch"], work / "weights"))}
        for m in config["models"] if not models or m["name"] in models
    ]
    if methods:
        config["methods"] = [m for m in config["methods"] if m["name"] in methods]
    if quick:
        for m in config["methods"]:
            if m["method"] == "kernelshap":
                m["params"]["n_samples"] = 100
            if m["method"] == "integrated_gradients":
                m["params"]["n_steps"] = 16
    root = photos(work / "photos")
    if not any(root.rglob("*.png")):
        raise SystemExit(f"bench/thesis.py: {root} holds no images; delete it to have it made again")
    config["data"] = {"source": "imagefolder", "path": str(root), "image_size": preset["data"]["image_size"],
                      "explain_images": images}
    config["train"] = {**config["train"], "epochs": 0}
    config["device"], config["amp"], config["threads"] = "cpu", False, 1
    config.pop("resources", None)  # the preset's GPU requests
    if not model_statistics:
        config["statistics"] = {**config.get("statistics", {}),
                                **{name: {"enabled": False} for name in ("sanity", "faithfulness", "random_logit")}}
    return config


def jobs(work: Path) -> pd.DataFrame:
    """rule, model, method, wall_s, cpu_s, max_rss_mb, start_wall_s, start_cpu_s of every finished job."""
    rows = []
    bench, logs = work / "results" / "benchmarks", work / "results" / "logs"
    for tsv in sorted(bench.rglob("*.tsv")):
        parts = tsv.relative_to(bench).with_suffix("").parts
        b = pd.read_csv(tsv, sep="\t").iloc[0]
        log = logs.joinpath(*parts).with_suffix(".log")
        found = START.search(log.read_text()) if log.is_file() else None
        rule, model, method = "/".join(parts), "", ""
        if parts[0] == "explain":
            rule, method, model = parts
        elif parts[0] in ("train", "predict"):
            rule, model = parts
        rows.append({"rule": rule, "model": model, "method": method, "wall_s": float(b["s"]), "cpu_s": float(b["cpu_time"]),
                     "max_rss_mb": float(b["max_rss"]), "start_wall_s": float(found[1]) if found else np.nan,
                     "start_cpu_s": float(found[2]) if found else np.nan})
    return pd.DataFrame(rows)


def report(table: pd.DataFrame, *, images: int, memory_mb: float) -> str:
    """The markdown tables: explain jobs (with projections and the memory check), then the rest."""
    explain = table[table["rule"] == "explain"].copy()
    for clock in ("wall", "cpu"):  # CPU time: what an idle machine's wall time would be (one thread per job)
        start = explain[f"start_{clock}_s"].fillna(0)
        per_image = (explain[f"{clock}_s"] - start).clip(lower=0) / images
        for n in PROJECTED:
            explain[f"{n} images ({clock} s)"] = start + per_image * n
    explain["mem_mb (SLURM)"] = memory_mb + JOB_OVERHEAD_MB
    explain["within"] = explain["max_rss_mb"] <= explain["mem_mb (SLURM)"]
    other = table[table["rule"] != "explain"].assign(
        rule=lambda t: ["/".join(r.split("/")[:2]) if r.startswith("statistics/") else r.split("/")[0] for r in t["rule"]])
    other = other.groupby("rule", sort=False).agg(jobs=("wall_s", "size"), wall_s=("wall_s", "sum"), cpu_s=("cpu_s", "sum"),
                                                  max_rss_mb=("max_rss_mb", "max")).sort_values("wall_s", ascending=False)
    lines = [explain.round(1).to_markdown(index=False), "",
             f"Explain stage on this machine, one job at a time: measured {explain['wall_s'].sum():.0f} s for {images} "
             f"image(s); projected " + ", ".join(f"{explain[f'{n} images (wall s)'].sum() / 3600:.1f} h wall "
                                                f"({explain[f'{n} images (cpu s)'].sum() / 3600:.1f} h CPU) for {n}" for n in PROJECTED)
             + f". Start cost: median {explain['start_wall_s'].median():.1f} s wall per explain job. "
             f"Peak RSS within mem_mb: {int(explain['within'].sum())} of {len(explain)} explain jobs.", "",
             "Every other rule (jobs, summed wall and CPU seconds, largest peak RSS):", "",
             other.round(1).to_markdown()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("thesis-rehearsal"), help="folder of stand-ins and results")
    parser.add_argument("--images", type=int, default=1, help="explained images (data.explain_images)")
    parser.add_argument("--models", nargs="+", help="a subset of the preset's model names")
    parser.add_argument("--methods", nargs="+", help="a subset of the preset's method names")
    parser.add_argument("--quick", action="store_true", help="KernelSHAP 100 coalitions, IG 16 steps")
    parser.add_argument("--no-model-statistics", action="store_true",
                        help="turn off sanity, faithfulness and random logit (they explain again: hours here)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the per-job table as CSV")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    preset = yaml.safe_load(PRESET.read_text())
    config = override(preset, work, images=args.images, models=args.models, methods=args.methods, quick=args.quick,
                      model_statistics=not args.no_model_statistics)
    configfile = work / "rehearsal.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    import psutil

    memory = psutil.virtual_memory().total // 2**20  # the scheduler never starts jobs beyond the machine's memory
    cmd = [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "--profile",
           str(REPO / "profiles" / "default"), "-d", str(work), "--configfile", str(configfile), "--cores",
           str(args.cores), "--resources", f"mem_mb={memory}", "--quiet", "all"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench/thesis.py: the rehearsal failed after {wall:.0f} s:\n{(done.stdout + done.stderr)[-4000:]}")
    table = jobs(work)
    memory_mb = config["explain"].get("memory_mb", 4096)
    print(f"thesis preset rehearsal: {len(config['models'])} models x {len(config['methods'])} methods, "
          f"{args.images} image(s), {wall:.0f} s wall for the whole run\n")
    print(report(table, images=args.images, memory_mb=memory_mb))
    if args.out:
        table.to_csv(args.out, index=False)
    return table


if __name__ == "__main__":
    main()
