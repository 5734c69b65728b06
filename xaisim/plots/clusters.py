"""Figures of one model x model distance matrix: dendrograms, Louvain graph, clustered heatmap, embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
import seaborn as sns
from scipy.cluster import hierarchy
from sklearn.decomposition import PCA
from sklearn.manifold import ClassicalMDS

from xaisim.cluster import LINKAGES, check_distance, cut_height, linkage
from xaisim.plots import save
from xaisim.plots.palette import (
    community_colours,
    family_colour,
    family_legend_handles,
    family_marker,
    model_colours,
)


def _draw_dendrogram(ax: plt.Axes, z: np.ndarray, labels: list[str], families: dict[str, str], k: int) -> None:
    hierarchy.dendrogram(
        z, labels=labels, ax=ax, leaf_rotation=45, color_threshold=cut_height(z, k), above_threshold_color="#888888"
    )
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
        label.set_color(family_colour(families.get(label.get_text(), "")))
        label.set_fontweight("bold")
    ax.set_ylabel("distance")


def dendrogram(
    z: np.ndarray, labels: list[str], families: dict[str, str], k: int, title: str, path: str | Path,
    formats: Iterable[str] = ("png",),
) -> None:
    """Dendrogram with leaf labels in family colours and branches coloured by the ``k``-cluster cut."""
    fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * len(labels) + 2), 4.5))
    _draw_dendrogram(ax, z, labels, families, k)
    ax.set_title(title)
    ax.legend(handles=family_legend_handles([families[m] for m in labels]), title="family", loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize=8)
    save(fig, path, formats)


def linkage_comparison(
    distance: pd.DataFrame, families: dict[str, str], k: int, title: str, path: str | Path,
    formats: Iterable[str] = ("png",),
) -> None:
    """Average, complete, single and weighted linkage of the same matrix side by side (thesis 20240831)."""
    labels = list(distance.index)
    fig, axes = plt.subplots(1, len(LINKAGES), figsize=(len(LINKAGES) * max(3.5, 0.4 * len(labels) + 1.5), 4.5),
                             sharey=True, layout="constrained")
    for ax, method in zip(axes, LINKAGES):
        _draw_dendrogram(ax, linkage(distance, method), labels, families, k)
        ax.set_title(method)
    fig.suptitle(title)
    save(fig, path, formats)


def community_graph(
    distance: pd.DataFrame, weights: np.ndarray, communities: dict[str, int] | None, families: dict[str, str],
    title: str, seed: int, path: str | Path, formats: Iterable[str] = ("png",),
) -> None:
    """The community graph (``weights``, e.g. kNN): node colour = community (grey without community
    structure), marker and outline = family, edge width ∝ weight (1 - distance)."""
    names = list(distance.index)
    graph = nx.relabel_nodes(nx.from_numpy_array(weights), dict(enumerate(names)))
    if communities is None:
        communities = {n: 0 for n in names}
    pos = nx.spring_layout(graph, weight="weight", seed=seed)
    ids = sorted(set(communities.values()))
    colours = community_colours(len(ids)) if len(ids) > 1 else ["#bbbbbb"]
    fig, ax = plt.subplots(figsize=(7, 6))
    weights = np.array([graph.edges[e]["weight"] for e in graph.edges])
    if len(weights):
        nx.draw_networkx_edges(graph, pos, ax=ax, width=0.5 + 5 * weights / weights.max(), alpha=0.35,
                               edge_color="#555555")
    for fam in sorted(set(families[n] for n in graph.nodes)):
        nodes = [n for n in graph.nodes if families[n] == fam]
        nx.draw_networkx_nodes(
            graph, pos, nodelist=nodes, ax=ax, node_shape=family_marker(fam), node_size=600,
            node_color=[colours[ids.index(communities[n])] for n in nodes], edgecolors=family_colour(fam),
            linewidths=3,
        )
    nx.draw_networkx_labels(graph, pos, ax=ax, labels={n: n for n in graph.nodes}, font_size=9,
                            verticalalignment="top", bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0})
    xy = np.array(list(pos.values())).reshape(-1, 2)
    ax.set_xlim(xy[:, 0].min() - 0.35, xy[:, 0].max() + 0.35)
    ax.set_ylim(xy[:, 1].min() - 0.35, xy[:, 1].max() + 0.25)
    from matplotlib.patches import Patch

    community_handles = [Patch(color=colours[i], label=f"community {c}") for i, c in enumerate(ids) if len(ids) > 1]
    ax.legend(handles=community_handles + family_legend_handles([families[n] for n in graph.nodes]),
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title(f"{title}\nedge width ∝ 1 - distance")
    ax.axis("off")
    save(fig, path, formats)


def clustered_heatmap(
    matrix: pd.DataFrame, z: np.ndarray, families: dict[str, str], title: str, path: str | Path,
    label: str = "distance", noise_floor: float | None = None, formats: Iterable[str] = ("png",),
) -> None:
    """seaborn clustermap in dendrogram order, diagonal masked, family colour bars, noise floor on the colour bar."""
    n = len(matrix)
    colours = pd.Series({m: family_colour(families[m]) for m in matrix.index}, name="family")
    grid = sns.clustermap(
        matrix, row_linkage=z, col_linkage=z, mask=np.eye(n, dtype=bool), cmap="viridis_r",
        annot=n <= 12, fmt=".2f", row_colors=colours, col_colors=colours, figsize=(0.6 * n + 4, 0.6 * n + 4),
        cbar_kws={"label": label}, dendrogram_ratio=0.15,
    )
    if noise_floor is not None and np.isfinite(noise_floor):
        grid.ax_cbar.axhline(noise_floor, color="white", linewidth=2, linestyle="--")
        grid.ax_cbar.text(1.05, noise_floor, " noise floor", transform=grid.ax_cbar.get_yaxis_transform(),
                          va="center", fontsize=8)
    for label_ in grid.ax_heatmap.get_yticklabels() + grid.ax_heatmap.get_xticklabels():
        label_.set_color(family_colour(families.get(label_.get_text(), "")))
    grid.figure.suptitle(title, y=1.02)
    save(grid.figure, path, formats)


def embeddings(
    mean: pd.DataFrame | None, distance: pd.DataFrame, families: dict[str, str], all_models: list[str], title: str,
    path: str | Path, formats: Iterable[str] = ("png",),
) -> None:
    """PCA of the rows of 1 - mean similarity (the thesis' plot; of the distance rows where ``mean`` is
    None) and classical MDS of the distance matrix."""
    names = list(distance.index)
    rows = "distance" if mean is None else "1 - similarity"
    dissimilarity = (distance if mean is None else 1 - mean.loc[names, names]).to_numpy(dtype=float)
    n_comp = min(2, len(names))
    pca = PCA(n_components=n_comp, svd_solver="full").fit(dissimilarity)
    with np.errstate(invalid="ignore"):  # the NaN axes, set to 0 below
        mds = ClassicalMDS(n_components=n_comp, metric="precomputed").fit(check_distance(distance))
    points = {
        f"PCA of {rows} ({', '.join(f'{v:.0%}' for v in pca.explained_variance_ratio_)} variance)":
            pca.transform(dissimilarity),
        # a non-Euclidean distance has negative eigenvalues, whose axes sklearn gives as NaN: Torgerson's
        # classical MDS keeps the positive ones, so those axes are 0
        "classical MDS of the distance": np.nan_to_num(mds.embedding_, nan=0.0),
    }
    colours = model_colours(all_models)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
    for ax, (name, xy) in zip(axes, points.items()):
        xy = np.column_stack([xy, np.zeros((len(xy), 2 - xy.shape[1]))])
        for (x, y), model in zip(xy, names):
            ax.scatter(x, y, s=120, marker=family_marker(families[model]), color=family_colour(families[model]),
                       edgecolors=colours[model], linewidths=2)
            ax.annotate(model, (x, y), xytext=(5, 5), textcoords="offset points", fontsize=9)
        ax.set_title(name)
        ax.set_xlabel("component 1")
        ax.set_ylabel("component 2")
        ax.margins(0.2)
    axes[1].legend(handles=family_legend_handles([families[m] for m in names]), title="family", fontsize=8)
    fig.suptitle(title)
    save(fig, path, formats)
