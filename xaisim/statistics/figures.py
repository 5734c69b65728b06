"""Every figure of the statistics stage from its tables, in one job that imports no torch.

:func:`figure_names` is cheap (the workflow calls it when the DAG is built); :func:`draw` imports the
plotting modules.

Figure names (the rule's order, :func:`figure_names`): ``references``; per method/metric
``mantel/<method>/<metric>`` (explanation distance against agreement, error consistency and CKA with
the Mantel r and p, one row per variant, the noise floor as dashed lines), ``image_count/...`` and
``stability/...``; per map method ``sanity/<method>`` when the sanity test ran.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import pandas as pd

LABELS = {"agreement": "same prediction (explained images)", "error_consistency": "error consistency", "cka": "CKA"}


def figure_names(keys: Sequence[str], sanity_methods: Sequence[str]) -> list[str]:
    """Names of the figures for method/metric ``keys`` and the methods the sanity test ran."""
    names = ["references"]
    for key in keys:
        names += [f"{kind}/{key}" for kind in ("mantel", "image_count", "stability")]
    return names + [f"sanity/{method}" for method in sanity_methods]


def _mantel_rows(mantel: pd.DataFrame, reference: str, matrix: str) -> pd.DataFrame:
    return mantel[(mantel["a"] == reference) & (mantel["b"] == matrix)][["method", "r", "p"]]


def draw(
    inputs: Mapping[str, str | Sequence[str]], outputs: Sequence[str], *, keys: Sequence[str], variants: Sequence[str],
    sanity_methods: Sequence[str], models: list[str], families: dict[str, str], formats: Iterable[str] = ("png",),
) -> None:
    """Draw every figure of :func:`figure_names` to ``outputs`` (same order).

    ``inputs``: same_class, error_consistency, cka, mantel, noise_floor, image_count, variance,
    stability, distances (one per key x variant, in that order) and, with sanity methods, sanity.
    """
    from xaisim.io import read_matrix
    from xaisim.plots import message
    from xaisim.plots import statistics as plots
    from xaisim.statistics.mantel import REFERENCES

    paths = dict(zip(figure_names(keys, sanity_methods), outputs))
    same = read_matrix(inputs["same_class"])
    n_images = pd.Series(same.to_numpy().diagonal(), index=same.index)
    references = {"agreement": same / n_images.max(), "error_consistency": read_matrix(inputs["error_consistency"]),
                  "cka": read_matrix(inputs["cka"])}
    plots.reference_matrices({LABELS[k]: v for k, v in references.items()}, families,
                             "What the explanations are compared with", paths["references"], formats)
    mantel = pd.read_csv(inputs["mantel"])
    floor = pd.read_csv(inputs["noise_floor"])
    counts, variance = pd.read_csv(inputs["image_count"]), pd.read_csv(inputs["variance"])
    stability = pd.read_csv(inputs["stability"])
    distances = iter(inputs["distances"])
    for key in keys:
        method, metric = key.split("/")
        matrices = {variant: read_matrix(next(distances)) for variant in variants}
        tests = {(v, ref): _mantel_rows(mantel, ref, f"{key}/{v}/distance") for v in variants for ref in REFERENCES}
        here = floor[(floor["method"] == method) & (floor["metric"] == metric)]
        floors = {v: dict(zip(g["replicate_of"], g["replicate_distance"])) for v, g in here.groupby("variant")}
        plots.reference_scatter(matrices, {LABELS[k]: references[k] for k in REFERENCES},
                                {(v, LABELS[ref]): rows for (v, ref), rows in tests.items()}, families,
                                f"{method} / {metric}: do models that predict, err and represent alike explain alike?",
                                paths[f"mantel/{key}"], formats, floors=floors)
        title = f"{method} / {metric}"
        mine = (counts["method"] == method) & (counts["metric"] == metric)
        if mine.any():
            cells = variance[(variance["method"] == method) & (variance["metric"] == metric)]
            plots.image_count_boxplots(counts[mine], cells, f"{title}: influence of the number of images",
                                       paths[f"image_count/{key}"], formats)
        else:
            message("no image count below the explained images (statistics.image_counts)", title,
                    paths[f"image_count/{key}"], formats)
        boots = stability[(stability["method"] == method) & (stability["metric"] == metric)]
        if len(boots):
            plots.stability_boxplots(boots, f"{title}: cluster stability (bootstrap over images)",
                                     paths[f"stability/{key}"], formats)
        else:
            message("no bootstrap gave a finite distance matrix", title, paths[f"stability/{key}"], formats)
    if sanity_methods:
        sanity = pd.read_csv(inputs["sanity"])
        for method in sanity_methods:
            rows = sanity[(sanity["method"] == method) & sanity["layers"].notna()]
            path = paths[f"sanity/{method}"]
            if rows.empty:
                reasons = "; ".join(sorted(set(sanity.loc[sanity["method"] == method, "reason"].dropna())))
                message(f"no model could be randomised: {reasons or 'no rows'}", f"{method}: sanity", path, formats)
            else:
                plots.sanity_curves(rows, models, f"{method}: model-parameter randomisation (cascading from the top)",
                                    path, formats)

