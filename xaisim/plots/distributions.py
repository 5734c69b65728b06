"""Distributions: per-pair similarity histograms and annotated model x model matrices."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from xaisim.plots import message, save
from xaisim.plots.palette import family_colour


def pair_histograms(
    sims: np.ndarray, models: list[str], families: dict[str, str], title: str, path: str | Path,
    formats: Iterable[str] = ("png",),
) -> None:
    """Grid of histograms of the per-image similarity of every model pair (thesis 20240603/20240620).

    ``sims`` is (N, M, M); the upper triangle holds the pairs, the diagonal the model names. NaN
    values (images excluded for a pair) are left out and the count of used images is shown.
    """
    m = len(models)
    if m == 0:
        message("the method explains none of the models: no pair to show", title, path, formats)
        return
    finite = sims[np.isfinite(sims)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 21)
    size = 1.6 if m <= 8 else 1.2
    fig, axes = plt.subplots(m, m, figsize=(size * m + 1, size * m + 1), squeeze=False, layout="constrained")
    for i in range(m):
        for j in range(m):
            ax = axes[i, j]
            if j < i:
                ax.axis("off")
            elif j == i:
                ax.text(0.5, 0.5, models[i], ha="center", va="center", fontsize=9, fontweight="bold",
                        color=family_colour(families[models[i]]), transform=ax.transAxes, wrap=True)
                ax.axis("off")
            else:
                values = sims[:, i, j][np.isfinite(sims[:, i, j])]
                ax.hist(values, bins=bins, color="#4c72b0")
                ax.set_xlim(bins[0], bins[-1])
                ax.set_yticks([])
                ax.tick_params(labelsize=7)
                ax.text(0.03, 0.95, f"n={len(values)}\nμ={values.mean():.2f}" if len(values) else "no image",
                        transform=ax.transAxes, fontsize=7, va="top")
    fig.suptitle(title)
    save(fig, path, formats)


def matrix(
    values: pd.DataFrame, families: dict[str, str], title: str, path: str | Path, label: str,
    cmap: str = "viridis", formats: Iterable[str] = ("png",), vmin: float | None = None, vmax: float | None = None,
) -> None:
    """An annotated model x model matrix in the given order, labels in family colours."""
    n = len(values)
    fig, ax = plt.subplots(figsize=(0.6 * n + 3.5, 0.5 * n + 2.5))
    sns.heatmap(values, annot=n <= 16, fmt=".2f", cmap=cmap, square=True, ax=ax, cbar_kws={"label": label},
                vmin=vmin, vmax=vmax)
    for text in ax.get_yticklabels() + ax.get_xticklabels():
        text.set_color(family_colour(families.get(text.get_text(), "")))
    ax.set_title(title)
    save(fig, path, formats)
