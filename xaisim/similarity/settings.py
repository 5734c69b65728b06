"""A method entry's similarity settings, checked when the DAG is built, defaults filled in.

Method entry keys (config ``methods[i]``): ``normalise`` (steps, :mod:`~xaisim.similarity.normalise`;
default ``none``), ``grid`` (:mod:`~xaisim.similarity.grids`; default ``input``) and ``metrics``
(names of metric entries that apply to this method; default all of them).
"""

from __future__ import annotations

from typing import Any

from xaisim.similarity import grids, normalise
from xaisim.similarity.metrics import METRICS


def method_settings(entry: dict[str, Any], metric_entries: list[dict[str, Any]], where: str) -> dict[str, Any]:
    """``{normalise, grid, metrics: {name: [metric, params]}}`` of one method entry; ValueError names the field."""
    steps = normalise.parse(entry.get("normalise", "none"), f"{where}.normalise")
    grid = grids.check(entry.get("grid", "input"), f"{where}.grid")
    by_name = {m["name"]: m for m in metric_entries}
    chosen = entry.get("metrics", list(by_name))
    unknown = [n for n in chosen if n not in by_name]
    if unknown:
        raise ValueError(f"{where}.metrics: no metric entry named {unknown}; metric entries: {sorted(by_name)}")
    metrics = {}
    for name in chosen:
        i = metric_entries.index(by_name[name])
        params = METRICS.check_params(by_name[name]["metric"], by_name[name].get("params", {}), f"config metrics[{i}].params")
        metrics[name] = [by_name[name]["metric"], params]
    return {"normalise": [{name: params} for name, params in steps], "grid": grid, "metrics": metrics}
