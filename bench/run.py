"""Benchmark with targets: the quickstart wall time (similarity: bench/similarity.py).

    .venv/bin/python bench/run.py [quickstart]

Prints one line per measurement with its target; exits 1 if a target is missed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
QUICKSTART_TARGET_S = 600


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


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["quickstart"]
    results = [globals()[name]() for name in chosen]
    sys.exit(0 if all(results) else 1)
