"""What the checks of the compared explanations cost: the CPU time of the statistics that qualify a
comparison (sanity, faithfulness, random logit, complexity, cross-model deletion and its clusters)
against the explain stage's, from a finished run's Snakemake benchmark files.

    .venv/bin/python bench/trust_cost.py [results-dir]

Target: at most 15 % of the explain stage's CPU time (the quickstart's defaults). Exits 1 when missed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

TARGET = 0.15
TRUST = ("sanity", "faithfulness", "random_logit", "complexity", "cross_deletion")


def cpu(files: list[Path]) -> float:
    """Summed CPU seconds of Snakemake benchmark files (column ``cpu_time``)."""
    return float(sum(pd.read_csv(f, sep="\t")["cpu_time"].sum() for f in files))


def main(results: str = "results") -> int:
    bench = Path(results) / "benchmarks"
    explain = cpu(sorted(bench.glob("explain/**/*.tsv")))
    if not explain:
        print(f"no explain benchmarks under {bench}: run the workflow first")
        return 1
    parts = {name: cpu(sorted((bench / "statistics" / name).glob("**/*.tsv"))
                       + sorted((bench / "statistics").glob(f"{name}.tsv"))) for name in TRUST}
    parts["cross-deletion clusters"] = cpu(sorted(bench.glob("cluster/*/cross_deletion/*.tsv")))
    total = sum(parts.values())
    for name, seconds in parts.items():
        print(f"{name:24s} {seconds:7.1f} CPU-s  {seconds / explain:6.1%} of explain")
    ratio = total / explain
    print(f"{'all checks':24s} {total:7.1f} CPU-s  {ratio:6.1%} of the explain stage's {explain:.1f} CPU-s "
          f"(target <= {TARGET:.0%}: {'met' if ratio <= TARGET else 'missed'})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
