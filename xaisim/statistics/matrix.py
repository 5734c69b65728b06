"""The distance matrix of a resample of the images, as the similarity stage computes it."""

from __future__ import annotations

import numpy as np


def distance(sims: np.ndarray) -> np.ndarray:
    """The similarity stage's distance matrix of (N, M, M) per-image similarities (NaN = left out)."""
    from xaisim.similarity.aggregate import summarise

    return summarise(sims, np.ones(sims.shape, dtype=bool), n_boot=0, seed=0)["distance"]
