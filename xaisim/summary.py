"""``results/summary.md``: the key numbers of a run, the page a researcher reads first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from xaisim.io import atomic_path


def _table(df: pd.DataFrame) -> str:
    """A GitHub markdown table (no extra dependency)."""
    cells = [[str(c) for c in df.columns]] + [[_fmt(v) for v in row] for row in df.itertuples(index=False)]
    lines = ["| " + " | ".join(row) + " |" for row in cells]
    lines.insert(1, "|" + "---|" * len(df.columns))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _groups(clusters: pd.DataFrame, column: str) -> str:
    if clusters[column].isna().all() or (clusters[column].astype(str) == "").all():
        return "–"
    return "; ".join(
        "{" + ", ".join(g["model"]) + "}" for _, g in clusters.groupby(column, sort=True)
    )


def summary_text(
    accuracy: pd.DataFrame, clusters: dict[tuple[str, str, str], tuple[pd.DataFrame, dict[str, Any]]],
    outcomes: pd.DataFrame, missing: list[str],
) -> str:
    """The markdown page: accuracy, clusters per method x metric x variant, outcomes, and what is not computed."""
    acc = accuracy[["model", "family", "val_accuracy", "val_accuracy_centre_crop"]].rename(
        columns={"val_accuracy": "accuracy (squash, explained)", "val_accuracy_centre_crop": "accuracy (timm centre crop)"}
    )
    parts = ["# xaisim summary", "", "## Accuracy per model (validation split)", "", _table(acc), ""]
    rows = []
    for (method, metric, variant), (table, info) in clusters.items():
        if "skipped" in info:
            rows.append({"method": method, "metric": metric, "images": variant, "dendrogram clusters": info["skipped"],
                         "Louvain communities": "–", "cophenetic r": "–", "resolution": "–", "modularity": "–"})
            continue
        rows.append({
            "method": method, "metric": metric, "images": variant,
            "dendrogram clusters": f"k={info['k']} ({info['linkage']}): {_groups(table, 'cluster')}",
            "Louvain communities": _groups(table, "community"),
            "cophenetic r": info["cophenetic"], "resolution": info["resolution"], "modularity": info["modularity"],
        })
    parts += ["## Clusters per method and metric", "", _table(pd.DataFrame(rows)), ""]
    unsupported = outcomes[outcomes["outcome"] != "explained"]
    parts += ["## Explanation outcomes", ""]
    if unsupported.empty:
        parts.append(f"Every model was explained by every method ({len(outcomes)} model x method files).")
    else:
        parts.append(_table(unsupported[["method", "model", "reason"]]))
    zero = outcomes[pd.to_numeric(outcomes["zero_maps"], errors="coerce").fillna(0) > 0]
    parts += ["", "All-zero maps (left out of the pairs that involve them): "
              + (", ".join(f"{r.model}/{r.method}: {r.zero_maps}" for r in zero.itertuples()) or "none."), ""]
    for title in missing:
        parts += [f"## {title}", "", "Not computed by this pipeline version (no statistics stage yet).", ""]
    return "\n".join(parts)


def write_summary(
    accuracy_path: str, cluster_paths: dict[tuple[str, str, str], tuple[str, str]], outcomes_path: str, out_path: str
) -> None:
    clusters = {
        key: (pd.read_csv(table), json.loads(Path(info).read_text())) for key, (table, info) in cluster_paths.items()
    }
    text = summary_text(
        pd.read_csv(accuracy_path), clusters, pd.read_csv(outcomes_path, keep_default_na=False),
        ["Mantel tests (explanation vs agreement, CKA, error consistency)", "Family separation",
         "Noise floor (replicate distance)"],
    )
    with atomic_path(out_path) as tmp:
        tmp.write_text(text + "\n")
