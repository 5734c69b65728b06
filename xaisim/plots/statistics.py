"""Figures of the statistics stage: reference scatters with Mantel r and p, box plots, sanity curves."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from xaisim.plots import save
from xaisim.plots.palette import model_colours

PAIR_COLOURS = {"same family": "#2ca02c", "different families": "#8c564b"}


def _pairs(a: pd.DataFrame, b: pd.DataFrame, families: dict[str, str]) -> pd.DataFrame:
    models = [m for m in a.index if m in b.index]
    i, j = np.triu_indices(len(models), 1)
    return pd.DataFrame({
        "x": a.loc[models, models].to_numpy(dtype=float)[i, j],
        "y": b.loc[models, models].to_numpy(dtype=float)[i, j],
        "pair": ["same family" if families[models[p]] == families[models[q]] else "different families"
                 for p, q in zip(i, j)],
    })


def reference_scatter(
    distance: pd.DataFrame, references: dict[str, pd.DataFrame], mantel: dict[str, pd.DataFrame],
    families: dict[str, str], title: str, path: str | Path, formats: Iterable[str] = ("png",),
) -> None:
    """Explanation distance of every model pair against each reference matrix, with its Mantel r and p.

    ``mantel[name]`` holds the Mantel rows (columns method, r, p) of that reference with this distance.
    """
    fig, axes = plt.subplots(1, len(references), figsize=(5.2 * len(references), 4.6), squeeze=False,
                             layout="constrained")
    for ax, (name, reference) in zip(axes[0], references.items()):
        points = _pairs(reference, distance, families)
        for pair, group in points.groupby("pair"):
            ax.scatter(group["x"], group["y"], s=40, color=PAIR_COLOURS[pair], label=pair, alpha=0.8)
        rows = mantel.get(name, pd.DataFrame(columns=["method", "r", "p"]))
        stats = "; ".join(f"{r.method} r = {r.r:.2f}, p = {r.p:.3g}" for r in rows.itertuples()) or "no Mantel test"
        ax.set_title(f"{name.replace('_', ' ')}\nMantel: {stats}", fontsize=9)
        ax.set_xlabel(name.replace("_", " "))
        ax.set_ylabel("explanation distance")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    save(fig, path, formats)


def image_count_boxplots(
    sums: pd.DataFrame, variance: pd.DataFrame, title: str, path: str | Path, formats: Iterable[str] = ("png",),
) -> None:
    """Thesis 20240806: per image count n, Σ|D_n - D_full| over repetitions and the per-cell variance."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    sns.boxplot(sums, x="n", y="sum_abs_diff", ax=axes[0], color="#4c72b0")
    axes[0].set_ylabel("Σ |D_n - D_all| over cells")
    axes[0].set_title("distance to the all-image matrix")
    sns.boxplot(variance, x="n", y="variance", ax=axes[1], color="#dd8452")
    axes[1].set_ylabel("variance of a cell over repetitions")
    axes[1].set_title("per-cell variance")
    for ax in axes:
        ax.set_xlabel("images sampled (n)")
    fig.suptitle(title)
    save(fig, path, formats)


def stability_boxplots(table: pd.DataFrame, title: str, path: str | Path, formats: Iterable[str] = ("png",)) -> None:
    """Adjusted Rand index of bootstrap clusterings to the full-data ones, per clustering."""
    long = table.melt(value_vars=["ari_dendrogram", "ari_louvain"], var_name="clustering", value_name="ARI")
    long["clustering"] = long["clustering"].map({"ari_dendrogram": "dendrogram k-cut", "ari_louvain": "Louvain"})
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sns.boxplot(long, x="clustering", y="ARI", hue="clustering", ax=ax, palette="Set2", legend=False)
    sns.stripplot(long, x="clustering", y="ARI", ax=ax, color="black", size=3, alpha=0.5)
    ax.set_ylim(-0.55, 1.05)
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.set_ylabel("adjusted Rand index to the full data")
    ax.set_title(title)
    save(fig, path, formats)


def sanity_curves(
    table: pd.DataFrame, all_models: list[str], title: str, path: str | Path, formats: Iterable[str] = ("png",),
) -> None:
    """Model-parameter randomisation: similarity of explanations to the trained model's, per depth and model."""
    colours = model_colours(all_models)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True, layout="constrained")
    for ax, column in zip(axes, ("spearman", "cosine")):
        for model, group in table.groupby("model", sort=False):
            group = group.sort_values("layers")
            x = group["layers"] / group["of_layers"].clip(lower=1)
            ax.errorbar(x, group[column], yerr=group[f"{column}_std"], marker="o", capsize=3, label=model,
                        color=colours.get(model, "black"))
        ax.set_xlabel("fraction of layers randomised (from the top)")
        ax.set_ylabel(f"{column} similarity to the trained model's map")
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_title(column)
    axes[1].legend(fontsize=8, loc="upper right")
    fig.suptitle(title)
    save(fig, path, formats)
