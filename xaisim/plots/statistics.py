"""Figures of the statistics stage: reference scatters with Mantel r and p, box plots, sanity curves.

A statistic declares its figures by name (``xaisim.statistics``, ``figures=``); each name has a
function registered here in :data:`FIGURES`, ``fn(data, item, path)``, that draws it from the stage's
tables (:class:`StageTables`) for ``item``: "" for a figure drawn once, ``method/metric`` for one per
matrix, the method for one per map method. :func:`draw` draws a job's figures in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from xaisim.io import read_matrix
from xaisim.plots import message, save
from xaisim.plots.palette import family_colour, model_colours
from xaisim.registry import Registry

BETWEEN = "between families"
BETWEEN_COLOUR = "#8c8c8c"


def _pairs(a: pd.DataFrame, b: pd.DataFrame, families: dict[str, str]) -> pd.DataFrame:
    """Upper-triangle pairs of the models both matrices hold: x from ``a``, y from ``b``, pair kind."""
    models = [m for m in a.index if m in b.index]
    i, j = np.triu_indices(len(models), 1)
    return pd.DataFrame({
        "x": a.loc[models, models].to_numpy(dtype=float)[i, j],
        "y": b.loc[models, models].to_numpy(dtype=float)[i, j],
        "pair": [f"within {families[models[p]]}" if families[models[p]] == families[models[q]] else BETWEEN
                 for p, q in zip(i, j)],
    })


def reference_scatter(
    distances: dict[str, pd.DataFrame], references: dict[str, pd.DataFrame],
    mantel: dict[tuple[str, str], pd.DataFrame], families: dict[str, str], title: str, path: str | Path,
    formats: Iterable[str] = ("png",), floors: dict[str, dict[str, float]] | None = None,
) -> None:
    """Explanation distance of every model pair (one row per variant) against each reference matrix.

    ``mantel[(variant, reference)]`` holds the Mantel rows (columns method, r, p) of that pair of
    matrices; pairs within one family take the family's colour, the others grey. ``floors[variant]``
    maps a replicated entry to its noise floor (mean replicate distance), drawn as a dashed line.
    """
    floors = floors or {}
    fig, axes = plt.subplots(len(distances), len(references), figsize=(5.2 * len(references), 4.4 * len(distances)),
                             squeeze=False, layout="constrained")
    for row, (variant, distance) in zip(axes, distances.items()):
        for ax, (name, reference) in zip(row, references.items()):
            points = _pairs(reference, distance, families)
            for pair, group in points.groupby("pair"):
                colour = BETWEEN_COLOUR if pair == BETWEEN else family_colour(pair.removeprefix("within "))
                ax.scatter(group["x"], group["y"], s=40, color=colour, label=pair, alpha=0.8)
            for k, (entry, floor) in enumerate(floors.get(variant, {}).items()):
                ax.axhline(floor, color="black", linestyle=("--", ":", "-.")[k % 3], linewidth=1,
                           label=f"noise floor {entry}")
            rows = mantel.get((variant, name), pd.DataFrame(columns=["method", "r", "p"]))
            stats = "; ".join(f"{r.method} r = {r.r:.2f}, p = {r.p:.3g}" if r.r == r.r else f"{r.method} r undefined"
                              for r in rows.itertuples()) or "no Mantel test"
            ax.set_title(f"{variant} images vs {name.replace('_', ' ')}\nMantel: {stats}", fontsize=9)
            ax.set_xlabel(name.replace("_", " "))
            ax.set_ylabel(f"explanation distance ({variant} images)")
            if len(points):
                ax.legend(fontsize=7)
    fig.suptitle(title)
    save(fig, path, formats)


def reference_matrices(
    matrices: dict[str, pd.DataFrame], families: dict[str, str], title: str, path: str | Path,
    formats: Iterable[str] = ("png",),
) -> None:
    """The model-level matrices the explanations are compared with, side by side (annotated heatmaps)."""
    n = max(len(m) for m in matrices.values())
    fig, axes = plt.subplots(1, len(matrices), figsize=((0.55 * n + 3) * len(matrices), 0.5 * n + 3), squeeze=False,
                             layout="constrained")
    for ax, (name, values) in zip(axes[0], matrices.items()):
        sns.heatmap(values.astype(float), annot=n <= 16, fmt=".2f", cmap="viridis", square=True, ax=ax,
                    vmin=min(0.0, float(np.nanmin(values.to_numpy(dtype=float), initial=0))),
                    vmax=max(1.0, float(np.nanmax(values.to_numpy(dtype=float), initial=1))))
        for text in ax.get_yticklabels() + ax.get_xticklabels():
            text.set_color(family_colour(families.get(text.get_text(), "")))
        ax.set_title(name)
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
    long = table.melt(value_vars=["ari_dendrogram", "ari_communities"], var_name="clustering", value_name="ARI")
    long["clustering"] = long["clustering"].map({"ari_dendrogram": "dendrogram k-cut", "ari_communities": "communities"})
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


@dataclass
class StageTables:
    """What the statistics figures read: tables by name (``results/statistics/<name>.csv``), the
    distance matrices by ``method/metric/variant`` and the figures' context; each file read once."""

    tables: Mapping[str, str]
    distances: Mapping[str, str]
    variants: Sequence[str]
    models: list[str]
    families: dict[str, str]
    formats: Iterable[str] = ("png",)
    _read: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def csv(self, name: str) -> pd.DataFrame:
        return self._cached(f"csv:{name}", lambda: pd.read_csv(self.tables[name]))

    def matrix(self, name: str) -> pd.DataFrame:
        """A model x model table by its name, or a distance matrix by ``method/metric/variant``."""
        path = self.tables.get(name) or self.distances[name]
        return self._cached(f"matrix:{path}", lambda: read_matrix(path))

    def _cached(self, key: str, read: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        if key not in self._read:
            self._read[key] = read()
        return self._read[key]


FIGURES: Registry[Callable[[StageTables, str, str], None]] = Registry("statistics figure")
LABELS = {"agreement": "same prediction (explained images)", "error_consistency": "error consistency", "cka": "CKA"}


def draw(figures: Mapping[str, str], data: StageTables) -> None:
    """Draw every figure ``<name>[/<item>]`` -> path with the function registered as ``<name>``."""
    for figure, path in figures.items():
        name, _, item = figure.partition("/")
        FIGURES.get(name)(data, item, path)


def _references(data: StageTables) -> dict[str, pd.DataFrame]:
    """The model-level matrices: same-class counts as fractions of the images, error consistency, CKA."""
    same = data.matrix("agreement/same_class_counts")
    n_images = pd.Series(same.to_numpy().diagonal(), index=same.index)
    return {"agreement": same / n_images.max(), "error_consistency": data.matrix("agreement/error_consistency"),
            "cka": data.matrix("cka")}


def _rows(table: pd.DataFrame, **match: str) -> pd.DataFrame:
    """The rows of ``table`` whose columns equal ``match``."""
    mine = np.logical_and.reduce([table[k] == v for k, v in match.items()])
    return table[mine]


@FIGURES.register("references")
def references_figure(data: StageTables, item: str, path: str) -> None:
    references = _references(data)
    reference_matrices({LABELS[k]: v for k, v in references.items()}, data.families,
                       "What the explanations are compared with", path, data.formats)


@FIGURES.register("mantel")
def mantel_figure(data: StageTables, key: str, path: str) -> None:
    """Explanation distance of ``key`` against each reference, Mantel r and p, the noise floor."""
    from xaisim.statistics.mantel import REFERENCES

    method, metric = key.split("/")
    references, mantel = _references(data), data.csv("mantel")
    matrices = {variant: data.matrix(f"{key}/{variant}") for variant in data.variants}
    tests = {(v, LABELS[ref]): _rows(mantel, a=ref, b=f"{key}/{v}/distance")[["method", "r", "p"]]
             for v in data.variants for ref in REFERENCES}
    here = _rows(data.csv("noise_floor"), method=method, metric=metric)
    floors = {v: dict(zip(g["replicate_of"], g["replicate_distance"])) for v, g in here.groupby("variant")}
    reference_scatter(matrices, {LABELS[k]: references[k] for k in REFERENCES}, tests, data.families,
                      f"{method} / {metric}: do models that predict, err and represent alike explain alike?",
                      path, data.formats, floors=floors)


def _of_matrix(data: StageTables, table: str, key: str, path: str, empty: str) -> tuple[pd.DataFrame, str]:
    """The rows of ``table`` for ``key`` (method/metric) and the title of its figures; with no rows, the
    figure at ``path`` says ``empty``."""
    method, metric = key.split("/")
    rows, title = _rows(data.csv(table), method=method, metric=metric), f"{method} / {metric}"
    if rows.empty:
        message(empty, title, path, data.formats)
    return rows, title


@FIGURES.register("image_count")
def image_count_figure(data: StageTables, key: str, path: str) -> None:
    counts, title = _of_matrix(data, "image_count", key, path,
                               "no image count below the explained images (statistics.image_counts)")
    if len(counts):
        method, metric = key.split("/")
        cells = _rows(data.csv("image_count_variance"), method=method, metric=metric)
        image_count_boxplots(counts, cells, f"{title}: influence of the number of images", path, data.formats)


@FIGURES.register("stability")
def stability_figure(data: StageTables, key: str, path: str) -> None:
    boots, title = _of_matrix(data, "stability", key, path, "no bootstrap gave a finite distance matrix")
    if len(boots):
        stability_boxplots(boots, f"{title}: cluster stability (bootstrap over images)", path, data.formats)


@FIGURES.register("sanity")
def sanity_figure(data: StageTables, method: str, path: str) -> None:
    sanity = data.csv("sanity")
    rows = sanity[(sanity["method"] == method) & sanity["layers"].notna()]
    if rows.empty:
        reasons = "; ".join(sorted(set(sanity.loc[sanity["method"] == method, "reason"].dropna())))
        message(f"no model could be randomised: {reasons or 'no rows'}", f"{method}: sanity", path, data.formats)
        return
    sanity_curves(rows, data.models, f"{method}: model-parameter randomisation (cascading from the top)", path,
                  data.formats)


REPRESENTATION_LABELS = {"cka": "linear CKA", "representation/debiased_cka": "debiased CKA",
                         "representation/procrustes": "Procrustes distance (rad)",
                         "representation/mutual_knn": "mutual kNN alignment"}


@FIGURES.register("representations")
def representations_figure(data: StageTables, item: str, path: str) -> None:
    """Linear CKA beside the representation references (debiased CKA, Procrustes, mutual kNN)."""
    reference_matrices({label: data.matrix(name) for name, label in REPRESENTATION_LABELS.items()}, data.families,
                       "Representation similarity by four measures (Procrustes: a distance)", path, data.formats)


@FIGURES.register("complexity")
def complexity_figure(data: StageTables, item: str, path: str) -> None:
    """Per map method: sparseness and normalised entropy complexity of each model's maps (box plots, counted maps only)."""
    maps = data.csv("complexity/per_map")
    maps = maps[maps["reason"].isna()]
    methods = list(dict.fromkeys(maps["method"]))
    if not methods:
        message("no usable map (all unsupported, zero or non-finite)", "complexity", path, data.formats)
        return
    fig, axes = plt.subplots(len(methods), 2, figsize=(11, 3.6 * len(methods)), squeeze=False, layout="constrained")
    for row, method in zip(axes, methods):
        mine = maps[maps["method"] == method]
        for ax, measure in zip(row, ("sparseness", "complexity")):
            sns.boxplot(mine, x="model", y=measure, ax=ax, color="#c6dbef")
            ax.set_title(f"{method}: {'Gini sparseness' if measure == 'sparseness' else 'complexity (entropy / log pixels)'}")
            ax.tick_params(axis="x", rotation=45)
    fig.suptitle("Complexity of the maps: do models differ in how sparse their maps are?")
    save(fig, path, data.formats)


@FIGURES.register("faithfulness")
def faithfulness_figure(data: StageTables, method: str, path: str) -> None:
    """Per map method: each model's mean deletion and insertion curve, the map's order (solid) against
    a random order (dashed)."""
    c = data.csv("faithfulness/curves")
    c = c[c["method"] == method] if len(c) else c
    if c.empty:
        message("no usable map (all unsupported, zero or non-finite)", f"{method}: faithfulness", path, data.formats)
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    palette = dict(zip(data.models, sns.color_palette("tab10", len(data.models))))
    for ax, curve in zip(axes, ("deletion", "insertion")):
        for (model, order), g in c[c["curve"] == curve].groupby(["model", "order"], sort=False):
            ax.plot(g["fraction"], g["probability"], color=palette.get(model), ls="-" if order == "map" else "--",
                    label=model if order == "map" else None)
        ax.set(title=f"{curve} (dashed: random order)", xlabel="fraction of pixels", ylabel="target probability",
               ylim=(0, 1.02))
    axes[1].legend(fontsize="small")
    fig.suptitle(f"{method}: deletion and insertion curves (Petsiuk et al. 2018)")
    save(fig, path, data.formats)


@FIGURES.register("random_logit")
def random_logit_figure(data: StageTables, item: str, path: str) -> None:
    """Spearman and cosine similarity of the map for the explained class and for a random other class,
    model x map method (near 1: the method ignores the class)."""
    t = data.csv("random_logit")
    t = t[t["spearman"].notna() | t["cosine"].notna()] if len(t) else t
    if t.empty:
        message("no model could be explained for another class", "random-logit check", path, data.formats)
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.6 * t["method"].nunique() + 3), layout="constrained")
    for ax, key in zip(axes, ("spearman", "cosine")):
        grid = t.pivot(index="method", columns="model", values=key).reindex(columns=[m for m in data.models if m in set(t["model"])])
        sns.heatmap(grid, ax=ax, vmin=-1, vmax=1, cmap="RdBu_r", annot=True, fmt=".2f", cbar=key == "cosine")
        ax.set_title(f"{key}: explained class vs a random other class")
    fig.suptitle("Random-logit check (Sixt et al. 2020): near 1, the method ignores the class")
    save(fig, path, data.formats)


@FIGURES.register("cross_deletion")
def cross_deletion_figure(data: StageTables, method: str, path: str) -> None:
    """Per map method: the cross-deletion score and its normalised form, explainer x evaluated model
    (:mod:`xaisim.statistics.cross_deletion`)."""
    from xaisim.io import unstacked

    score = unstacked(data.csv("cross_deletion/score")).get(method)
    if score is None or not np.isfinite(score.to_numpy(dtype=float)).any():
        message("no usable map (all unsupported, zero or non-finite)", f"{method}: cross-deletion", path, data.formats)
        return
    normalised = unstacked(data.csv("cross_deletion/normalised"))[method]
    n = len(score)
    fig, axes = plt.subplots(1, 2, figsize=(2 * (0.55 * n + 3), 0.5 * n + 3), layout="constrained")
    for ax, values, title, centre in ((axes[0], score, "drop beyond random (B's own class probability)", 0.0),
                                      (axes[1], normalised, "relative to B's own map (1 = as much)", None)):
        sns.heatmap(values.astype(float), ax=ax, annot=n <= 16, fmt=".2f", cmap="RdBu_r" if centre == 0 else "viridis",
                    center=centre, square=True)
        for text in ax.get_yticklabels() + ax.get_xticklabels():
            text.set_color(family_colour(data.families.get(text.get_text(), "")))
        ax.set(title=title, xlabel="evaluated model B", ylabel="explainer A (whose map deletes)")
        ax.tick_params(axis="x", labelrotation=90)
        ax.tick_params(axis="y", labelrotation=0)
    fig.suptitle(f"{method}: cross-model deletion (Jiang et al. 2022)")
    save(fig, path, data.formats)
