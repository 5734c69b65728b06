"""Dry-run time with every output present: configs/imagenette2.yaml (target < 3 s) and a
14-model x 10-method x 8-metric variant of it (target < 10 s).

Usage: python bench/parse.py [--repeat 3]. Builds the outputs as empty files marked up to date
with `snakemake --touch` in a temporary folder (no download, no training), then times `snakemake -n`
after one warm-up run (which fills the config cache in .snakemake/xaisim/, as any first run does).
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def big_config() -> dict:
    config = yaml.safe_load((REPO / "configs/imagenette2.yaml").read_text())
    # the preset's per-model GradCAM layers (models[i].methods.GradCAM) keep applying to "GradCAM"
    config["methods"] = [{"name": "GradCAM" if i == 0 else f"gradcam{i}", "method": "gradcam"} for i in range(5)] + [
        {"name": f"ig{i}", "method": "integrated_gradients", "params": {"n_steps": 10 + i}} for i in range(5)
    ]
    config["metrics"] = [{"name": "cosine", "metric": "cosine"}] + [
        {"name": f"rbf{i}", "metric": "rbf", "params": {"sigma": 10.0 * (i + 1)}} for i in range(7)
    ]
    return config


def smk(workdir: Path, configfile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--configfile", str(configfile),
           "--cores", "1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True)


def prepare(workdir: Path, configfile: Path) -> int:
    """Create every output of the DAG as an empty file and mark it up to date; return the job count."""
    listing = smk(workdir, configfile, "-n").stdout
    total = int(re.search(r"^total\s+(\d+)", listing, re.M)[1])
    for line in re.findall(r"^\s+output: (.+)$", listing, re.M):
        for f in line.split(", "):
            path = workdir / f
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    smk(workdir, configfile, "--touch")
    return total


def timed(workdir: Path, configfile: Path, repeat: int) -> tuple[float, float]:
    """Best wall time and CPU time (user + sys) of `snakemake -n` that finds nothing to do."""
    best_wall = best_cpu = float("inf")
    smk(workdir, configfile, "-n")  # warm-up: the config cache
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = smk(workdir, configfile, "-n").stdout
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert "Nothing to be done" in out, out[-2000:]
        best_wall = min(best_wall, wall)
        best_cpu = min(best_cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return best_wall, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.yaml"
        big.write_text(yaml.safe_dump(big_config()))
        for name, configfile, target in (("imagenette2", REPO / "configs/imagenette2.yaml", 3.0),
                                         ("14 models x 10 methods x 8 metrics", big, 10.0)):
            workdir = Path(tmp) / re.sub(r"\W+", "_", name)
            jobs = prepare(workdir, configfile)
            wall, cpu = timed(workdir, configfile, args.repeat)
            verdict = "ok" if wall < target else "SLOW"
            print(f"{name}: {jobs} jobs up to date, dry run {wall:.2f} s wall ({cpu:.2f} s CPU), target < {target:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
