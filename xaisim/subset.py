"""The explained subset: the validation images every model and method explains (``data/explain.csv``)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

log = logging.getLogger(__name__)


def explain_subset(index: pd.DataFrame, n_images: int, seed: int) -> pd.DataFrame:
    """The validation images every model and method explains: ``n_images``, seeded and stratified
    (fewer images than classes: one image each of ``n_images`` seeded classes, with a warning)."""
    val = index[index["split"] == "val"]
    if n_images > len(val):
        raise ValueError(
            f"data.explain_images={n_images} exceeds the {len(val)} validation images; lower it to at most {len(val)}"
        )
    if n_images == len(val):
        chosen = val
    elif n_images < val["label"].nunique():  # too few to stratify: one image each of n seeded classes
        classes = np.random.default_rng(seed).permutation(sorted(val["label"].unique()))[:n_images]
        chosen = pd.concat(val[val["label"] == c].sample(1, random_state=seed) for c in classes)
        log.warning("data.explain_images=%d is below the %d classes: one image each of the seeded classes %s; "
                    "the other classes are not explained", n_images, val["label"].nunique(), sorted(int(c) for c in classes))
    else:
        chosen, _ = train_test_split(
            val, train_size=n_images, stratify=val["label"], random_state=seed
        )
    return chosen.sort_values("image_id").reset_index(drop=True)
