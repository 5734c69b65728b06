"""Which explained images the explanation grids show.

``auto`` picks ``per_category`` images for each of three categories, spread over classes (round
robin over the classes, seeded order inside a class), each image used once, the categories filled
in the order near-tie, some-wrong, all-correct:

- ``all-correct``: every model predicts the true class;
- ``some-wrong``: at least one model is wrong; images on which the models disagree most come first;
- ``near-tie``: some model has the true class among its top two with top-1 minus top-2 probability at
  most ``near_tie`` (the LIME MNIST example's "interesting" cases); the closest tie comes first.

A category without any such image is empty (its figure says so). Config ids are shown as one
``selected`` category, in the order given; an id outside the explained subset is an error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xaisim import paths as P

CATEGORIES = ("all-correct", "some-wrong", "near-tie")


def prediction_frame(subset: pd.DataFrame, predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per explained image: label, and per model ``pred:<model>``, ``prob:<model>``, ``pred2:<model>``, ``prob2:<model>``."""
    frame = subset.set_index("image_id")[["label"]].copy()
    for model, table in predictions.items():
        t = table.set_index("image_id").reindex(frame.index)
        for col in ("pred", "prob", "pred2", "prob2"):
            frame[f"{col}:{model}"] = t[col].to_numpy()
    return frame


def _spread(candidates: pd.DataFrame, priority: pd.Series, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` ids, best ``priority`` (ascending) first within each class, classes taken in turn."""
    if candidates.empty:
        return []
    c = candidates.assign(priority=priority.loc[candidates.index], shuffle=rng.random(len(candidates)))
    c = c.sort_values(["priority", "shuffle"])
    c["rank"] = c.groupby("label").cumcount()
    return list(c.sort_values(["rank", "priority", "shuffle"]).index[:n])


def select(
    subset: pd.DataFrame, predictions: dict[str, pd.DataFrame], per_category: int, near_tie: float, seed: int
) -> pd.DataFrame:
    """Rows image_id, category (see the module docstring), in display order."""
    frame = prediction_frame(subset, predictions)
    models = list(predictions)
    label = frame["label"].to_numpy()
    pred = np.stack([frame[f"pred:{m}"].to_numpy() for m in models], 1)
    correct = pred == label[:, None]
    margin = np.stack([(frame[f"prob:{m}"] - frame[f"prob2:{m}"]).to_numpy() for m in models], 1)
    truth_top2 = correct | np.stack([frame[f"pred2:{m}"].to_numpy() == label for m in models], 1)
    tie = np.where(truth_top2 & (margin <= near_tie), margin, np.inf).min(1)
    distinct = np.array([len(set(row)) for row in pred])
    rng = np.random.default_rng(seed)
    labels = frame[["label"]]
    rows, used = [], set()
    rules = {  # rarest first, so that an image goes to the most telling category
        "near-tie": (np.isfinite(tie), pd.Series(tie, frame.index)),
        "some-wrong": (~correct.all(1), pd.Series(-distinct - (~correct).sum(1) / (len(models) + 1), frame.index)),
        "all-correct": (correct.all(1), pd.Series(0.0, frame.index)),
    }
    for category, (mask, priority) in rules.items():
        pool = labels[mask & ~frame.index.isin(list(used))]
        for image_id in _spread(pool, priority, per_category, rng):
            rows.append((image_id, category))
            used.add(image_id)
    return pd.DataFrame(rows, columns=["image_id", "category"])


def configured(subset: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """Config ids as the ``selected`` category; every id must be in the explained subset."""
    missing = [i for i in ids if i not in set(subset["image_id"])]
    if missing:
        raise ValueError(
            f"config figures.images: {missing[:3]} not in the explained subset ({P.SUBSET}); "
            "pick ids from that file or use auto"
        )
    return pd.DataFrame({"image_id": ids, "category": "selected"})
