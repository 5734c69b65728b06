"""Figures of example-based methods (:mod:`xaisim.examples`): the most similar training images
and the per-class mean scores."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from xaisim.io import ArrayFile
from xaisim.plots import save


def _image(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def top_similar(
    files: dict[str, ArrayFile], predictions: dict[str, pd.DataFrame], paths: pd.Series, n_images: int,
    title: str, path: str | Path,
) -> None:
    """For the first ``n_images`` explained images: per model a row with the image (true label,
    the model's prediction) and its top-k training images (label, the model's prediction, score); a
    saturated image (no loss gradient) says so."""
    any_file = next(iter(files.values()))
    ids = any_file.meta["image_ids"][:n_images]
    k = next((f.shape("top")[1] for f in files.values() if "unsupported" not in f.meta), 1)
    nrows, ncols = n_images * len(files), 1 + k
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.45 * nrows), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.axis("off")
    for i, image_id in enumerate(ids):
        for m, (model, f) in enumerate(files.items()):
            r = i * len(files) + m
            pred = predictions[model].set_index("image_id")
            ax = axes[r, 0]
            ax.imshow(_image(paths[image_id]))
            ax.set_title(f"{model}\ny={pred.loc[image_id, 'label']} ŷ={pred.loc[image_id, 'pred']}", fontsize=7)
            ax.axis("on")
            if "unsupported" in f.meta:
                axes[r, 1].text(0, 0.5, f"not supported: {f.meta['unsupported']}", fontsize=7, va="center")
                continue
            row = f.meta["image_ids"].index(image_id)
            if f.read("saturated")[row]:
                axes[r, 1].text(0, 0.5, "saturated: no loss gradient in float64", fontsize=7, va="center")
                continue
            top = f.read("top", row, row + 1)[0]
            scores = f.read("maps", row, row + 1)[0, 0]
            labels, preds = f.read("reference_labels"), f.read("reference_preds")
            for c, j in enumerate(top, start=1):
                axes[r, c].imshow(_image(paths[f.meta["reference_ids"][j]]))
                axes[r, c].set_title(f"y={labels[j]} ŷ={preds[j]}\n{scores[j]:.3g}", fontsize=7)
                axes[r, c].axis("on")
    fig.suptitle(title, fontsize=9)
    save(fig, path)


def _class_means(scores: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> pd.DataFrame:
    """Mean score per (explained-image class, reference-image class)."""
    r_classes, c_classes = np.unique(rows), np.unique(cols)
    out = np.full((len(r_classes), len(c_classes)), np.nan)
    for a, rc in enumerate(r_classes):
        block = scores[rows == rc]
        for b, cc in enumerate(c_classes):
            out[a, b] = block[:, cols == cc].mean()
    return pd.DataFrame(out, index=r_classes, columns=c_classes)


def class_scores(files: dict[str, ArrayFile], predictions: dict[str, pd.DataFrame], title: str, path: str | Path) -> None:
    """Per model: mean score of explained images of class a against training images of class b,
    by true class (left) and by the model's predicted class (right); saturated images left out."""
    supported = {m: f for m, f in files.items() if "unsupported" not in f.meta}
    fig, axes = plt.subplots(max(1, len(supported)), 2, figsize=(8, 3.4 * max(1, len(supported))), squeeze=False,
                             layout="constrained")
    for r, (model, f) in enumerate(supported.items()):
        kept = ~f.read("saturated").astype(bool)
        pred = predictions[model].set_index("image_id").loc[f.meta["image_ids"]][kept]
        scores = f.read("maps")[kept, 0, :].astype(np.float64)
        for c, (by, x_cls, ref_cls) in enumerate(
            [("true class", pred["label"].to_numpy(), f.read("reference_labels")),
             ("predicted class", pred["pred"].to_numpy(), f.read("reference_preds"))]
        ):
            means = _class_means(scores, x_cls, ref_cls)
            ax = axes[r, c]
            im = ax.imshow(means.to_numpy(), cmap="viridis", aspect="auto")
            ax.set_xticks(range(means.shape[1]), means.columns, fontsize=6)
            ax.set_yticks(range(means.shape[0]), means.index, fontsize=6)
            ax.set_xlabel(f"training image, {by}", fontsize=7)
            ax.set_ylabel(f"explained image, {by}", fontsize=7)
            ax.set_title(f"{model}: mean score by {by}", fontsize=8)
            fig.colorbar(im, ax=ax, shrink=0.8)
    if not supported:
        axes[0, 0].text(0.5, 0.5, "no model supports this method", ha="center")
    fig.suptitle(title, fontsize=9)
    save(fig, path)
