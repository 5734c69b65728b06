"""Hanawa et al. (2021)'s identical-class test of example-based explanations (:mod:`xaisim.examples`):
does an explained image's most similar training image have the model's predicted class? A table;
no torch."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xaisim.io import ArrayFile


def identical_class(files: dict[str, ArrayFile], predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per model (one method's files): the fraction of explained images whose most similar training
    image has the model's predicted class (Hanawa et al. 2021) and the true class."""
    rows = []
    for model, f in files.items():
        row = {"method": f.meta["method"], "kernel": f.meta["params"]["kernel"], "model": model}
        if "unsupported" in f.meta:
            rows.append({**row, "images": 0, "identical_pred": np.nan, "identical_label": np.nan,
                         "unsupported": f.meta["unsupported"]})
            continue
        pred = predictions[model].set_index("image_id").loc[f.meta["image_ids"]]
        top1 = f.read("reference_targets")[f.read("order")[:, 0]]
        rows.append({**row, "images": len(top1), "identical_pred": float((top1 == pred["pred"].to_numpy()).mean()),
                     "identical_label": float((top1 == pred["label"].to_numpy()).mean()), "unsupported": ""})
    return pd.DataFrame(rows)
