"""The figure and table jobs: read the stage outputs, compute what the figures show, draw them.

Figure jobs import no torch (about 2 s of each job): the functions that need it import it.

Policy for degenerate inputs: a matrix with fewer than two models, or with NaN cells (e.g. a pair
without any image predicted alike in the ``matching`` variant), cannot be clustered; its figures say
so in words and its clusters CSV lists the models with empty cluster columns. A (model, method)
that was not supported appears in the grids as a "not supported" panel.
"""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from xaisim import plots
from xaisim.cluster import adjacency, cluster
from xaisim.index import open_rgb
from xaisim.io import ArrayFile, unstacked, write_csv, write_json
from xaisim.plots import accuracy as accuracy_plots
from xaisim.plots import clusters, distributions
from xaisim.plots.explanations import Cell, grid
from xaisim.plots.palette import family_colour
from xaisim.selection import CATEGORIES, prediction_frame, select
from xaisim.statistics.agreement import agreement

log = logging.getLogger(__name__)


def evidence_distance(path: str, method: str) -> pd.DataFrame:
    """``method``'s cross-model deletion distance (the stacked table at ``path``), less the models whose
    own map was not counted (unsupported or degenerate: their diagonal is NaN), with a warning."""
    distance = unstacked(pd.read_csv(path)).get(method, pd.DataFrame())
    counted = np.isfinite(np.diag(distance.to_numpy(dtype=float)))
    if not counted.all():
        log.warning("cross-deletion %s: %s left out of the clustering (no counted map of their own)", method,
                    ", ".join(distance.index[~counted]))
    return distance.loc[counted, distance.columns[counted]]


def cluster_figures(
    distance: pd.DataFrame, mean: pd.DataFrame | None, out: Mapping[str, str], *, settings: dict[str, Any],
    families: dict[str, str], models: list[str], formats: list[str], title: str,
) -> None:
    """Clusters CSV, summary JSON, dendrogram, linkage comparison, Louvain graph, heatmap, embeddings of
    a model x model ``distance`` (``mean``: its similarity, None for a distance alone)."""
    figure_names = ("dendrogram", "linkages", "louvain", "heatmap", "embedding")
    reason = None
    if len(distance) < 2:
        reason = f"{len(distance)} model(s) in the matrix: nothing to cluster"
    elif not np.isfinite(distance.to_numpy(dtype=float)).all():
        reason = "the distance matrix has NaN cells (a pair without images): it cannot be clustered"
    if reason:
        log.warning("%s: %s", title, reason)
        write_csv(pd.DataFrame({"model": list(distance.index)}).assign(cluster="", community="", leaf_order=""),
                  out["clusters"], index=False)
        write_json({"skipped": reason}, out["summary"])
        for name in figure_names:
            plots.message(reason, title, out[name], formats)
        return
    table, summary, z = cluster(distance, settings)
    write_csv(table, out["clusters"], index=False)
    write_json(summary, out["summary"])
    labels = list(distance.index)
    k = summary["k"]
    clusters.dendrogram(z, labels, families, k,
                        f"{title}: {settings['linkage']} linkage, {k}-cluster cut "
                        f"(sizes {'+'.join(map(str, summary['cut_sizes']))}{_alone(summary['cut_singletons'])}), "
                        f"cophenetic r = {_number(summary['cophenetic'])}", out["dendrogram"], formats)
    clusters.linkage_comparison(distance, families, k, f"{title}: linkage methods compared", out["linkages"], formats)
    found = dict(zip(table.model, table.community)) if summary["community_structure"] else None
    clusters.community_graph(
        distance, adjacency(distance, settings), found, families, f"{title}\n" + textwrap.fill(summary["community_outcome"], 80),
        settings["seed"], out["louvain"], formats,
    )
    clusters.clustered_heatmap(distance, z, families, f"{title}: distance", out["heatmap"], formats=formats)
    clusters.embeddings(mean, distance, families, models, title, out["embedding"], formats)


def _alone(models: list[str]) -> str:
    return f"; sets apart {', '.join(models)} alone" if models else ""


def _number(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def histograms(per_image_path: str, out_path: str, *, families: dict[str, str], formats: list[str], title: str) -> None:
    """Grid of per-pair histograms of per-image similarity."""
    f = ArrayFile(per_image_path)
    models = f.meta["models"] if "models" in f.meta else list(families)
    plots.distributions.pair_histograms(f.read("similarity"), models, families, title, out_path, formats)


def accuracy(
    metrics: list[str], predictions: list[str], cropped: list[str], out: Mapping[str, str], *, models: list[str],
    families: dict[str, str], formats: list[str],
) -> None:
    """Accuracy table (squash resize and timm centre crop), accuracy bars, same-prediction matrix."""
    preds = {m: pd.read_csv(p, dtype={"image_id": str}) for m, p in zip(models, predictions)}
    crop = [pd.read_csv(p, dtype={"image_id": str}) for p in cropped]
    info = [json.loads(Path(p).read_text()) for p in metrics]
    table = pd.DataFrame(
        {
            "model": models,
            "arch": [m["arch"] for m in info],
            "family": [families[m] for m in models],
            # a pretrained head (epochs: 0) predicts its own classes: accuracy on the dataset's is undefined
            "val_accuracy": [_accuracy(p, m) for p, m in zip(preds.values(), info)],
            "val_accuracy_centre_crop": [_accuracy(p, m) for p, m in zip(crop, info)],
            "train_seconds": [m["train_seconds"] for m in info],
            "epochs": [m["epochs"] for m in info],
        }
    )
    write_csv(table, out["table"], index=False, float_format="%.4f")
    accuracy_plots.accuracy_bars(table, families, models, out["accuracy"], formats)
    distributions.matrix(agreement(preds), families, "Same prediction on the validation split", out["agreement"],
                         "fraction of images", formats=formats, vmin=0, vmax=1)


def _accuracy(predictions: pd.DataFrame, metrics: dict) -> float:
    if metrics.get("head") == "pretrained":
        return float("nan")
    return float((predictions["pred"] == predictions["label"]).mean())


def _load_image(path: str | Path) -> np.ndarray:
    return np.asarray(open_rgb(path), dtype=np.float64) / 255.0


def _explanations(paths: dict[str, dict[str, str]]) -> dict[str, dict[str, ArrayFile]]:
    return {method: {model: ArrayFile(p) for model, p in per_model.items()} for method, per_model in paths.items()}


def _map(f: ArrayFile, image_id: str, steps: list) -> np.ndarray | None:
    """The raw map of ``image_id`` normalised as the similarity stage does (at its native grid)."""
    if f.meta.get("unsupported") or image_id not in f.meta["image_ids"]:
        return None
    i = f.meta["image_ids"].index(image_id)
    import torch

    from xaisim.similarity.stream import prepare

    raw = torch.from_numpy(np.ascontiguousarray(f.read("maps", i, i + 1)))
    return prepare(raw, steps, tuple(raw.shape[1:])).numpy()[0]


def _segments(f: ArrayFile, image_id: str) -> np.ndarray | None:
    if "segments" not in f.names() or f.meta.get("unsupported"):
        return None
    i = f.meta["image_ids"].index(image_id)
    return f.read("segments", i, i + 1)[0]


def explanation_grids(
    index_path: str, subset_path: str, predictions: list[str], maps: dict[str, dict[str, str]],
    out: Mapping[str, Any], *, models: list[str], methods: list[str], families: dict[str, str],
    figures: dict[str, Any], normalise: dict[str, Any], seed: int, chosen_path: str | None = None,
) -> None:
    """Selection CSV; per category an image x method x model grid; per category the deeper figure.
    ``chosen_path``: the checked ``figures.images`` (:func:`xaisim.selection.configured`) where not auto.

    Maps are shown as the similarity stage compares them: each method's ``normalise`` steps.
    """
    from xaisim.index import read_index
    from xaisim.similarity import normalise as normalisation

    steps = {m: normalisation.parse(normalise[m], f"normalise of {m}") for m in methods}
    index = read_index(index_path).set_index("image_id")
    names = index.drop_duplicates("label").set_index("label")["class_name"].to_dict()
    subset = pd.read_csv(subset_path, dtype={"image_id": str, "class_name": str})
    preds = {m: pd.read_csv(p, dtype={"image_id": str}) for m, p in zip(models, predictions)}
    if figures["images"] == "auto":
        chosen = select(subset, preds, figures["per_category"], figures["near_tie"], seed)
        categories = list(CATEGORIES)
    else:  # the figure_images job checked them: config order, category "selected"
        chosen = pd.read_csv(chosen_path, dtype={"image_id": str})
        categories = ["selected"]
    frame = prediction_frame(subset, preds)
    write_csv(chosen.merge(subset, on="image_id"), out["selection"], index=False)
    files = _explanations(maps)
    if not methods:
        log.warning("explanation grids: no method of this study gives maps (only example-based ones); "
                    "the grid figures say so")
    colours = [family_colour(families[m]) for m in models]
    for category in categories:
        ids = list(chosen.loc[chosen["category"] == category, "image_id"])
        title = f"Explanations, {category} images"
        grid_path, deeper_path = out["grids"][category], out["deeper"][category]
        if not ids or not methods:
            reason = f"no explained image is {category.replace('-', ' ')}" if methods else "no method of this study gives maps"
            plots.message(reason, title, grid_path, figures["formats"])
            plots.message(reason, f"Deeper explanations, {category} image", deeper_path, figures["formats"])
            continue
        cells, rows = [], []
        for image_id in ids:
            image = _load_image(index.loc[image_id, "path"])
            truth = names[frame.loc[image_id, "label"]]
            for r, method in enumerate(methods):
                row = [Cell(image, text=f"{image_id}\ntrue: {truth}") if r == 0 else Cell()]
                for model in models:
                    row.append(_cell(files[method][model], steps[method], image, image_id, frame, model, names,
                                     caption=r == 0))
                cells.append(row)
                rows.append(method)
        grid(cells, rows, ["", *models], ["black", *colours], title, grid_path, figures["formats"])
        image_id = ids[0]
        image = _load_image(index.loc[image_id, "path"])
        deeper = [
            [Cell(image, text=_prediction_text(frame, image_id, model, names)[0],
                  colour=_prediction_text(frame, image_id, model, names)[1])]
            + [_cell(files[method][model], steps[method], image, image_id, frame, model, names, caption=False)
               for method in methods]
            for model in models
        ]
        grid(deeper, models, ["", *methods], ["black"] * (1 + len(methods)),
             f"Deeper explanations of {image_id} (true: {names[frame.loc[image_id, 'label']]}), {category}",
             deeper_path, figures["formats"])


def _prediction_text(frame: pd.DataFrame, image_id: str, model: str, names: dict[int, str]) -> tuple[str, str]:
    pred, prob = int(frame.loc[image_id, f"pred:{model}"]), float(frame.loc[image_id, f"prob:{model}"])
    ok = pred == frame.loc[image_id, "label"]
    return f"pred: {names.get(pred, pred)} ({prob:.0%})", "#2ca02c" if ok else "#d62728"


def _cell(f: ArrayFile, steps: list, image: np.ndarray, image_id: str, frame: pd.DataFrame, model: str,
          names: dict[int, str], caption: bool) -> Cell:
    if f.meta.get("unsupported"):
        return Cell(text="not supported", colour="#7f7f7f")
    text, colour = _prediction_text(frame, image_id, model, names) if caption else ("", "black")
    return Cell(image, _map(f, image_id, steps), _segments(f, image_id), text, colour)


def outcomes(paths: dict[str, dict[str, str]], zero_maps: dict[str, str], out_path: str) -> None:
    """Per method and model: explained or not supported (reason), map count and grid, zero/non-finite
    maps, for gradient similarity the saturated explained images (metadata ``saturated``, among
    the zero maps; "" for other methods), for KernelSHAP the maps its samples do not determine
    (metadata ``undetermined``).

    ``zero_maps`` holds the similarity stage's ``zero_maps.csv`` of each method.
    """
    rows = []
    for method, per_model in paths.items():
        counts = pd.read_csv(zero_maps[method]).set_index("model")
        for model, path in per_model.items():
            f = ArrayFile(path)
            rows.append(
                {
                    "method": method,
                    "model": model,
                    "outcome": "not supported" if f.meta.get("unsupported") else "explained",
                    "reason": f.meta.get("unsupported", ""),
                    "maps": f.shape("maps")[0],
                    "map_grid": "x".join(map(str, f.shape("maps")[1:])),
                    "zero_maps": counts.loc[model, "zero_maps"] if model in counts.index else "",
                    "nonfinite_maps": counts.loc[model, "nonfinite_maps"] if model in counts.index else "",
                    "saturated": f.meta.get("saturated", ""),
                    "undetermined": f.meta.get("undetermined", ""),
                }
            )
    write_csv(pd.DataFrame(rows), out_path, index=False)
