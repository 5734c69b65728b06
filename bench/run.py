"""Benchmarks with targets: the quickstart wall time and streamed similarity speed and memory.

    .venv/bin/python bench/run.py [quickstart] [similarity]

Prints one line per measurement with its target; exits 1 if a target is missed.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
QUICKSTART_TARGET_S = 600
SIMILARITY_TARGET_S = 60


def quickstart() -> bool:
    """The whole `make run` pipeline on config.yaml in a fresh folder (venv already present)."""
    snakemake = Path(sys.executable).parent / "snakemake"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [str(snakemake), "-s", str(REPO / "Snakefile"), "--profile", str(REPO / "profiles/default"),
             "-d", tmp, "--configfile", str(REPO / "config.yaml"), "--quiet", "all"],
            check=True,
        )
        wall = time.perf_counter() - start
        jobs = []
        for tsv in Path(tmp, "results/benchmarks").rglob("*.tsv"):
            jobs.append((str(tsv.relative_to(Path(tmp, "results/benchmarks")).with_suffix("")), pd.read_csv(tsv, sep="\t")["s"].iloc[0]))
        accuracy = pd.read_csv(Path(tmp, "results/summary/accuracy.csv"))
    for name, seconds in sorted(jobs, key=lambda j: -j[1])[:10]:
        print(f"  job {name:40s} {seconds:7.1f} s")
    print(accuracy.to_string(index=False))
    ok = wall <= QUICKSTART_TARGET_S and (accuracy["val_accuracy"] >= 0.9).all()
    print(f"quickstart: {wall:.0f} s wall (target <= {QUICKSTART_TARGET_S} s), min val accuracy "
          f"{accuracy['val_accuracy'].min():.3f} (target >= 0.90): {'PASS' if ok else 'FAIL'}")
    return ok


def similarity(models: int = 14, images: int = 256, size: int = 112, chunk: int = 32) -> bool:
    """Cosine and RBF over M model files of N maps each, streamed in chunks; time and peak memory."""
    from xaisim.io import save_arrays
    from xaisim.similarity import per_image

    rng = np.random.default_rng(0)
    ids = [f"img{i}" for i in range(images)]
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for m in range(models):
            paths.append(f"{tmp}/m{m}.safetensors")
            save_arrays(paths[-1], {"maps": rng.random((images, size, size), dtype=np.float32)}, {"image_ids": ids})
        data_mb = models * images * size * size * 4 / 2**20
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        for metric, params in (("cosine", {}), ("rbf", {"sigma": 40.0})):
            per_image(paths, metric, params, chunk)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = seconds <= SIMILARITY_TARGET_S
    print(f"similarity: {models} models x {images} maps of {size}x{size} ({data_mb:.0f} MiB on disk), cosine+rbf "
          f"in {seconds:.1f} s (target <= {SIMILARITY_TARGET_S} s), peak RSS {peak:.0f} MiB (before {before:.0f}): "
          f"{'PASS' if ok else 'FAIL'}")
    return ok


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["similarity", "quickstart"]
    results = [globals()[name]() for name in chosen]
    sys.exit(0 if all(results) else 1)
