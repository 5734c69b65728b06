"""Hanawa et al. (2021)'s identical-class test of example-based explanations (:mod:`xaisim.examples`):
does an explained image's most similar training image have the model's predicted class? A table;
no torch."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xaisim.io import ArrayFile


def identical_class(files: dict[str, ArrayFile], predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per model (one method's files): the fraction of explained images whose most similar training
    image has the model's predicted class (Hanawa et al. 2021) and the true class, over the
    ``images`` that are not ``saturated`` (no loss gradient: :mod:`xaisim.examples.gradient_similarity`;
    left out)."""
    rows = []
    for model, f in files.items():
        row = {"method": f.meta["method"], "kernel": f.meta["params"]["kernel"], "model": model}
        if "unsupported" in f.meta:
            rows.append({**row, "images": 0, "saturated": 0, "identical_pred": np.nan, "identical_label": np.nan,
                         "unsupported": f.meta["unsupported"]})
            continue
        kept = ~f.read("saturated").astype(bool)
        pred = predictions[model].set_index("image_id").loc[f.meta["image_ids"]][kept]
        top1 = f.read("reference_targets")[f.read("order")[kept, 0]]
        rows.append({**row, "images": len(top1), "saturated": int((~kept).sum()),
                     "identical_pred": _fraction(top1 == pred["pred"].to_numpy()),
                     "identical_label": _fraction(top1 == pred["label"].to_numpy()), "unsupported": ""})
    return pd.DataFrame(rows)


def _fraction(hits: np.ndarray) -> float:
    """The share of True, NaN if empty (every image saturated)."""
    return float(hits.mean()) if len(hits) else np.nan
