"""``results/summary.md``: the key numbers of a run, the page a researcher reads first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from xaisim.io import atomic_path
from xaisim.paths import EVIDENCE


def _table(df: pd.DataFrame) -> str:
    """A GitHub markdown table (no extra dependency)."""
    cells = [[str(c) for c in df.columns]] + [[_fmt(v) for v in row] for row in df.itertuples(index=False)]
    lines = ["| " + " | ".join(row) + " |" for row in cells]
    lines.insert(1, "|" + "---|" * len(df.columns))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return "n/a" if v != v else f"{v:.3g}"  # NaN: undefined (the statistic's log says why)
    return str(v)


def _rounded(v: float | None) -> float | None:
    """Three decimals: a single community's modularity is 0 up to rounding (1e-16), not a number to read."""
    return None if v is None else round(v, 3) + 0.0


def _groups(clusters: pd.DataFrame, column: str) -> str:
    if clusters[column].isna().all() or (clusters[column].astype(str) == "").all():
        return "–"
    return "; ".join(
        "{" + ", ".join(g["model"]) + "}" for _, g in clusters.groupby(column, sort=True)
    )


def _resolutions(clusters: dict[tuple[str, str, str], tuple[pd.DataFrame, dict[str, Any]]]) -> str:
    values = sorted({info["resolution"] for _, info in clusters.values() if "resolution" in info})
    return ", ".join(f"{v:g}" for v in values) or "n/a"


def _floors(clusters: dict[tuple[str, str, str], tuple[pd.DataFrame, dict[str, Any]]]) -> str:
    values = sorted({info["community_p_floor"] for _, info in clusters.values() if "community_p_floor" in info})
    return ", ".join(f"{v:.3g}" for v in values) or "n/a"


def _p(row: Any) -> str:
    """``p = 0.0139 (exact)`` or ``p = 0.001 (of 999 draws)``, and its q-value where it has one."""
    how = "exact" if row.p_exact else f"of {row.relabellings} draws"
    q = f", q = {row.q:.3g}{' *' if row.q < 0.05 else ''}" if row.q == row.q else ""
    return f"p = {row.p:.3g} ({how}){q}"


def _mantel(mantel: pd.DataFrame) -> pd.DataFrame:
    """Per explanation distance matrix: Pearson r, p and q against each reference matrix."""
    from xaisim.statistics.mantel import REFERENCES

    rows = mantel[(mantel["method"] == "pearson") & mantel["a"].isin(REFERENCES) & mantel["b"].str.endswith("/distance")]
    table = {}
    for r in rows.itertuples():
        method, metric, variant, _ = r.b.split("/")
        cell = "n/a" if pd.isna(r.r) else f"{r.r:.2f} ({_p(r)})"
        table.setdefault((method, metric, variant), {})[f"vs {r.a.replace('_', ' ')}"] = cell
    return pd.DataFrame([{"method": m, "metric": k, "images": v, **cells} for (m, k, v), cells in table.items()])


def _mantel_count(mantel: pd.DataFrame) -> str:
    tested = mantel[mantel["p"].notna()]
    kept = tested[tested["q"] < 0.05]
    floors = sorted(set(tested["p_floor"].round(6)))
    return (f"{len(tested)} Mantel tests were run (in {tested['family'].nunique()} families, Benjamini-Hochberg "
            f"within each); {len(kept)} have q < 0.05 (marked *), {int((tested['p'] < 0.05).sum())} have p < 0.05. "
            f"Smallest attainable p: {', '.join(f'{f:.3g}' for f in floors) or 'n/a'}.")


def _separation(sep: pd.DataFrame) -> str:
    """What the family tests can and do say, in words."""
    tested = sep[sep["p"].notna()]
    if tested.empty:
        return "No family test could be run (one family, or no family with two models)."
    floor = tested["p_floor"].min()
    if floor >= 0.05:
        return (f"Cannot reject: with these families the smallest attainable p is {floor:.3g} "
                f"({int(tested['relabellings'].max())} distinct labellings), so no test can reach 0.05 whatever the "
                "data; add models to each family.")
    kept = int((tested["q"] < 0.05).sum())
    return (f"{len(tested)} family tests (one family of tests, Benjamini-Hochberg): {kept} have q < 0.05"
            + (" — families explain differently there." if kept else "; families cannot be told apart by their explanations."))


def _statistics(mantel: pd.DataFrame, separation: pd.DataFrame, floor: pd.DataFrame) -> list[str]:
    parts = ["## Mantel tests: do models that predict, err and represent alike explain alike?", "",
             "Pearson r of the explanation distance with each reference matrix, its permutation p (exact when every "
             "model order was enumerated) and its q-value (all pairs of matrices, Spearman too: "
             "`statistics/mantel.csv`). Negative r: alike models explain alike.", ""]
    table = _mantel(mantel)
    parts += [_table(table) if len(table) else "No Mantel test (no explanation matrix).", ""]
    if len(mantel):
        parts += [_mantel_count(mantel), ""]
    parts += ["## Family separation", "",
              "Between- minus within-family mean distance and its one-sided permutation p (small p: families "
              "explain differently).", ""]
    sep = separation.rename(columns={"variant": "images", "statistic": "between - within", "n_models": "models",
                                     "p_floor": "smallest p"})
    parts += [_table(sep[["method", "metric", "images", "within", "between", "between - within", "p", "smallest p", "q",
                          "models", "families"]]) if len(sep) else "No distance matrix.", ""]
    if len(sep):
        parts += [_separation(separation), ""]
    parts += ["## Noise floor (replicate distance)", ""]
    if floor.empty:
        parts.append("Not measured: no model entry has `seeds: [...]` (replicates trained with different seeds).")
    else:
        f = floor.rename(columns={"variant": "images", "replicate_of": "architecture", "replicate_distance": "replicate distance",
                                  "other_distance": "distance to the other models"})
        parts.append(_table(f[["method", "metric", "images", "architecture", "replicates", "replicate distance",
                               "distance to the other models"]]))
    return parts + [""]


def _complexity_trust(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """Per map method: the spread of the models' mean sparseness and entropy, the maps not counted,
    and how many Mantel tests find the explanation distance following the complexity differences."""
    if "complexity" not in tables:
        return []
    c = tables["complexity"]
    mantel = tables.get("mantel", pd.DataFrame(columns=["a", "b", "method", "q"]))
    rows = []
    for method, g in c.groupby("method", sort=False):
        tests = mantel[mantel["a"].str.endswith(f"_difference/{method}") & mantel["b"].str.endswith("/distance")
                       & (mantel["method"] == "pearson")]
        rows.append({"method": method,
                     "sparseness (model means)": _spread(g["sparseness_mean"]),
                     "complexity, entropy / log pixels (model means)": _spread(g["complexity_mean"]),
                     "maps not counted": int((g["maps"] - g["counted"]).sum()),
                     "distance follows complexity (q < 0.05)": f"{int((tests['q'] < 0.05).sum())} of {len(tests)}"})
    return ["Complexity per map (`statistics/complexity.csv`; unsupported, all-zero and non-finite maps not "
            "counted): where the explanation distance follows the sparseness or entropy difference (Mantel, "
            "Pearson), models may look alike because their maps are equally sparse or blurry.", "",
            _table(pd.DataFrame(rows)), ""]


def _faithfulness_trust(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """Per map method: of how many models the maps beat a random order on deletion and on insertion."""
    if "faithfulness" not in tables:
        return []
    rows = []
    for method, g in tables["faithfulness"].groupby("method", sort=False):
        row = {"method": method, "models": len(g), "not counted": int((g["images"] - g["counted"]).sum())}
        floor = g["min_p"].min()
        for curve in ("deletion", "insertion"):
            tested = int(g[f"{curve}_p"].notna().sum())
            row[f"{curve} better than random (p < 0.05)"] = (
                f"cannot reject: smallest attainable p {floor:.3g}" if tested and floor >= 0.05
                else f"{int((g[f'{curve}_p'] < 0.05).sum())} of {tested}")
        row["smallest attainable p"] = _fmt(floor)
        rows.append(row)
    return ["Faithfulness (`statistics/faithfulness.csv`; deletion and insertion AUC against a random order, "
            "one-sided sign-flip test over images, smallest attainable p in `min_p`): a method whose maps are "
            "not better than random says little about its model, and its similarities little about the models. "
            "With too few images the test cannot reach p < 0.05 (raise `statistics.faithfulness.images`).", "",
            _table(pd.DataFrame(rows)), ""]


def _spread(values: pd.Series) -> str:
    """"low to high" of the finite values, "n/a" where there is none."""
    values = values.dropna()
    return f"{values.min():.3g} to {values.max():.3g}" if len(values) else "n/a"


def _random_logit_trust(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """Per map method: the range of the models' random-logit similarity (Spearman)."""
    if "random_logit" not in tables:
        return []
    rows = [{"method": method, "models": int(g["spearman"].notna().sum()),
             "Spearman, explained vs random class (model means)": _spread(g["spearman"])}
            for method, g in tables["random_logit"].groupby("method", sort=False)]
    return ["Random-logit check (`statistics/random_logit.csv`, Sixt et al. 2020): near 1, a method's maps do not "
            "depend on the class they explain.", "", _table(pd.DataFrame(rows)), ""]


def _cross_deletion_trust(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """Per map method: the pairs whose maps remove at least half of each other's own-map evidence,
    and how often the explanation distance follows the cross-deletion distance (Mantel)."""
    from xaisim.io import unstacked
    from xaisim.statistics.cross_deletion import SAME_EVIDENCE, same_evidence

    if "cross_deletion_normalised" not in tables:
        return []
    mantel = tables.get("mantel", pd.DataFrame(columns=["a", "b", "method", "q"]))
    rows = []
    for method, m in unstacked(tables["cross_deletion_normalised"]).items():
        tests = mantel[(mantel["a"] == f"cross_deletion/{method}") & mantel["b"].str.startswith(f"{method}/")
                       & mantel["b"].str.endswith("/distance") & (mantel["method"] == "pearson")]
        rows.append({"method": method, "own map beats random": f"{int(np.isfinite(np.diag(m.to_numpy(float))).sum())} of {len(m)}",
                     f"same evidence (normalised >= {SAME_EVIDENCE} both ways)": ", ".join(same_evidence(m)) or "none",
                     "distance follows evidence (q < 0.05)": f"{int((tests['q'] < 0.05).sum())} of {len(tests)}"})
    return ["Cross-model deletion (`statistics/cross_deletion.csv`, Jiang et al. 2022): model A's map deletes "
            "pixels, model B's confidence in its own prediction drops beyond a random deletion, relative to B's own "
            "map. Pairs high both ways rely on the same evidence; a model whose own map does not beat random has no "
            "normalised column.", "", _table(pd.DataFrame(rows)), ""]


# the parts of the trust section, each fn(tables) -> markdown lines ([] when its tables are absent)
TRUST = [_faithfulness_trust, _random_logit_trust, _cross_deletion_trust, _complexity_trust]


def trust_section(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """"Can these comparisons be trusted?": one short part per quality check whose table is there
    (``tables``: statistics tables by name)."""
    parts = [line for part in TRUST for line in part(tables)]
    return ["## Can these comparisons be trusted?", "", *parts] if parts else []


def summary_text(
    accuracy: pd.DataFrame, clusters: dict[tuple[str, str, str], tuple[pd.DataFrame, dict[str, Any]]],
    outcomes: pd.DataFrame, mantel: pd.DataFrame, separation: pd.DataFrame, floor: pd.DataFrame,
    quality: Mapping[str, pd.DataFrame] | None = None,
) -> str:
    """The markdown page: accuracy, clusters per method x metric x variant, Mantel tests, family
    separation, noise floor, the trust section (over ``quality``: statistics tables by name, with
    the Mantel table added), outcomes."""
    acc = accuracy[["model", "family", "val_accuracy", "val_accuracy_centre_crop"]].rename(
        columns={"val_accuracy": "accuracy (squash, explained)", "val_accuracy_centre_crop": "accuracy (timm centre crop)"}
    )
    parts = ["# xaisim summary", "", "## Accuracy per model (validation split)", "", _table(acc), ""]
    rows = []
    for (method, metric, variant), (table, info) in clusters.items():
        if "skipped" in info:
            rows.append({"method": method, "metric": metric, "images": variant, "dendrogram cut": info["skipped"],
                         "communities": "–", "cophenetic r": "–", "modularity": "–", "null p": "–"})
            continue
        alone = info["cut_singletons"]
        cut = f"k={info['k']} ({info['linkage']}): {_groups(table, 'cluster')}"
        rows.append({
            "method": method, "metric": metric, "images": variant,
            "dendrogram cut": cut + (f" — sets apart {', '.join(alone)} alone" if alone else ""),
            "communities": _groups(table, "community") if info["community_structure"] else "no community structure",
            "cophenetic r": info["cophenetic"], "modularity": _rounded(info["modularity"]), "null p": info["community_p"],
        })
    found = sum(info.get("community_structure", False) for _, info in clusters.values())
    clustered = _resolutions(clusters) != "n/a"
    parts += ["## Clusters per method and metric", "",
              (f"Communities of the kNN similarity graph at resolution {_resolutions(clusters)}, against a null of "
               f"permuted distances (Monte Carlo p, smallest attainable {_floors(clusters)}): "
               f"{found} of {len(clusters)} matrices {'has' if found == 1 else 'have'} community structure"
               + ("." if found else "; no matrix shows community structure beyond chance.")) if clustered else
              "No matrix has the models a clustering needs: nothing to cluster.",
              "A dendrogram cut always splits the models; a cut that sets single models apart says only that "
              "they are outliers." + (f" Metric `{EVIDENCE}`: the cross-model deletion distance of the map "
                                      "method (no map compared: how much less each model's map removes of the "
                                      "other's evidence than its own map)." if any(k[1] == EVIDENCE for k in clusters) else ""),
              "", _table(pd.DataFrame(rows)), ""]
    parts += _statistics(mantel, separation, floor)
    parts += trust_section({"mantel": mantel, **(quality or {})})
    unsupported = outcomes[outcomes["outcome"] != "explained"]
    parts += ["## Explanation outcomes", ""]
    if unsupported.empty:
        parts.append(f"Every model was explained by every method ({len(outcomes)} model x method files).")
    else:
        parts.append(_table(unsupported[["method", "model", "reason"]]))
    zero = _nonzero(outcomes, "zero_maps")
    parts += ["", "All-zero maps (left out of the pairs that involve them): "
              + (", ".join(f"{r.model}/{r.method}: {r.zero_maps}" for r in zero.itertuples()) or "none."), ""]
    undetermined = _nonzero(outcomes, "undetermined")
    if not undetermined.empty:
        parts += ["Underdetermined maps (KernelSHAP: more segments than `n_samples` determine; minimum-norm fits, "
                  "raise `n_samples`): " + ", ".join(f"{r.model}/{r.method}: {r.undetermined}"
                                                    for r in undetermined.itertuples()) + ".", ""]
    saturated = _nonzero(outcomes, "saturated")
    if not saturated.empty:
        parts += ["Saturated images (gradient similarity: a softmax so confident that the loss gradient underflows "
                  "float64; among the all-zero maps): "
                  + ", ".join(f"{r.model}/{r.method}: {r.saturated}" for r in saturated.itertuples()) + ".", ""]
    return "\n".join(parts)


def _nonzero(outcomes: pd.DataFrame, column: str) -> pd.DataFrame:
    """The outcome rows with a positive count in ``column`` ("" where it does not apply)."""
    return outcomes[pd.to_numeric(outcomes[column], errors="coerce").fillna(0) > 0]


def write_summary(
    accuracy_path: str, cluster_paths: dict[tuple[str, str, str], tuple[str, str]], outcomes_path: str,
    statistics: dict[str, str], out_path: str,
) -> None:
    """``statistics``: paths of mantel, family_separation and noise_floor (results/statistics/) and of
    the trust section's tables where they are written (faithfulness, random_logit, complexity,
    cross_deletion_normalised)."""
    clusters = {
        key: (pd.read_csv(table), json.loads(Path(info).read_text())) for key, (table, info) in cluster_paths.items()
    }
    text = summary_text(
        pd.read_csv(accuracy_path), clusters, pd.read_csv(outcomes_path, keep_default_na=False),
        pd.read_csv(statistics["mantel"]), pd.read_csv(statistics["family_separation"]),
        pd.read_csv(statistics["noise_floor"]),
        {name: pd.read_csv(path) for name, path in statistics.items()
         if name not in ("mantel", "family_separation", "noise_floor")},
    )
    with atomic_path(out_path) as tmp:
        tmp.write_text(text + "\n")
