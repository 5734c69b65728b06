"""Figures of one method x metric: dendrogram, Louvain graph and distance heatmap."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from scipy.cluster import hierarchy  # noqa: E402

from xaisim.cluster import similarity_graph  # noqa: E402
from xaisim.io import atomic_path  # noqa: E402


def _save(fig: plt.Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def dendrogram(z: np.ndarray, labels: list[str], title: str, path: str | Path) -> None:
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(labels) + 2), 4))
    hierarchy.dendrogram(z, labels=labels, ax=ax, leaf_rotation=45, color_threshold=0)
    ax.set_ylabel("distance")
    ax.set_title(title)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    _save(fig, path)


def community_graph(distance: pd.DataFrame, communities: dict[str, int], title: str, seed: int, path: str | Path) -> None:
    graph = similarity_graph(distance)
    pos = nx.spring_layout(graph, weight="weight", seed=seed)
    colours = [communities[n] for n in graph.nodes]
    widths = [3 * graph.edges[e]["weight"] for e in graph.edges]
    fig, ax = plt.subplots(figsize=(6, 5))
    nx.draw_networkx_edges(graph, pos, ax=ax, width=widths, alpha=0.3)
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=colours, cmap="tab10", vmin=0, vmax=9, node_size=500)
    nx.draw_networkx_labels(graph, pos, ax=ax, font_size=8)
    n = len(set(colours))
    ax.set_title(f"{title}\n{n} Louvain communit{'y' if n == 1 else 'ies'} (edge width = 1 - distance)")
    ax.axis("off")
    _save(fig, path)


def heatmap(
    matrix: pd.DataFrame, order: list[str], title: str, path: str | Path, label: str = "distance", cmap: str = "viridis_r"
) -> None:
    m = matrix.loc[order, order]
    fig, ax = plt.subplots(figsize=(0.6 * len(order) + 3, 0.5 * len(order) + 2))
    sns.heatmap(m, annot=len(order) <= 16, fmt=".2f", cmap=cmap, square=True, ax=ax, cbar_kws={"label": label})
    ax.set_title(title)
    _save(fig, path)


def examples(images: list[np.ndarray], maps: dict[str, np.ndarray], ids: list[str], title: str, path: str | Path) -> None:
    """Rows: images; columns: the image, then each model's map over it (signed maps in red/blue)."""
    signed = any((m < 0).any() for m in maps.values())
    cmap, vmin = ("RdBu_r", -1.0) if signed else ("inferno", 0.0)
    cols = 1 + len(maps)
    fig, axes = plt.subplots(
        len(images), cols, figsize=(1.6 * cols, 1.6 * len(images) + 0.4), squeeze=False, layout="constrained"
    )
    for r, (image, image_id) in enumerate(zip(images, ids)):
        axes[r, 0].imshow(image)
        axes[r, 0].set_ylabel(image_id, fontsize=6)
        for c, (model, m) in enumerate(maps.items(), start=1):
            axes[r, c].imshow(image.mean(2), cmap="gray")
            axes[r, c].imshow(m[r], cmap=cmap, vmin=vmin, vmax=1.0, alpha=0.6)
            if r == 0:
                axes[r, c].set_title(model, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    _save(fig, path)
