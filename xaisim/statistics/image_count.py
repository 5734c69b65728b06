"""How much does a distance matrix depend on the number of images? (thesis 20240806)

For every n of a list and m seeded repetitions: draw n of the N explained images without
replacement, recompute the distance matrix from the per-image similarities, and record
sum |D_n - D_full| over the off-diagonal upper triangle; per n also the variance over the
repetitions of every cell. n >= N is skipped with a warning (it would only reorder the images).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from xaisim.statistics import log
from xaisim.statistics.matrix import distance


def image_count_influence(
    sims: np.ndarray, models: Sequence[str], counts: Sequence[int], repetitions: int, seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tables (n, repetition, sum_abs_diff) and (n, model_a, model_b, mean, variance) from (N, M, M) sims."""
    n_images = len(sims)
    full = distance(sims)
    i, j = np.triu_indices(len(models), 1)
    rng = np.random.default_rng(seed)
    sums, cells = [], []
    for n in sorted(set(counts)):
        if n >= n_images or n < 2:
            log.warning("image count %d skipped: it must lie in [2, %d) (the explained images)", n, n_images)
            continue
        draws = np.stack([distance(sims[rng.choice(n_images, n, replace=False)]) for _ in range(repetitions)])
        diff = np.abs(draws - full)[:, i, j].sum(1)
        sums += [{"n": n, "repetition": r, "sum_abs_diff": d} for r, d in enumerate(diff)]
        var = draws.var(0, ddof=1) if repetitions > 1 else np.full(full.shape, np.nan)
        mean = draws.mean(0)
        cells += [{"n": n, "model_a": models[a], "model_b": models[b], "mean": mean[a, b], "variance": var[a, b]}
                  for a, b in zip(i, j)]
    sum_table = pd.DataFrame(sums, columns=["n", "repetition", "sum_abs_diff"])
    cell_table = pd.DataFrame(cells, columns=["n", "model_a", "model_b", "mean", "variance"])
    return sum_table, cell_table
