"""Family separation (:mod:`.separation`) and the replicate noise floor (:mod:`.noise_floor`) of every
explanation's distance matrix, in one job."""

from __future__ import annotations

from typing import Mapping, Sequence

from xaisim.io import read_matrix, write_csv
from xaisim.statistics import STATISTICS
from xaisim.statistics.noise_floor import noise_floor_table
from xaisim.statistics.separation import separation_table


@STATISTICS.register(
    "family_separation",
    reads={"distances": "distance"},
    writes={"separation": "family_separation", "noise_floor": "noise_floor"},
    report={"separation": "family separation", "noise_floor": "noise floor"},
    settings=["permutations", "seed"],
    context=["explanations", "families", "replicate_of"],
    resources={"mem_mb": 1000, "runtime": 10},
)
def family_separation(
    inputs: Mapping[str, Sequence[str]], tables: Mapping[str, str], *, explanations: list[str],
    families: dict[str, str], replicate_of: dict[str, str], permutations: int, seed: int,
) -> None:
    """The separation table and the noise-floor table over the (method, metric, variant) distances."""
    distances = {tuple(key.split("/")): read_matrix(path) for key, path in zip(explanations, inputs["distances"])}
    table = separation_table(distances, families, n_perm=permutations, seed=seed)
    write_csv(table, tables["separation"], index=False, float_format="%.6g")
    write_csv(noise_floor_table(distances, replicate_of), tables["noise_floor"], index=False, float_format="%.8g")
