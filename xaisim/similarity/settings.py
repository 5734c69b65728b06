"""A method entry's similarity settings, checked when the DAG is built, defaults filled in.

Method entry keys (config ``methods[i]``): ``normalise`` (steps, :mod:`~xaisim.similarity.normalise`;
default ``none``), ``grid`` (:mod:`~xaisim.similarity.grids`; default ``input``) and ``metrics``
(names of metric entries that apply to this method; default all of them).
"""

from __future__ import annotations

from typing import Any, Sequence

from xaisim.similarity import grids, normalise
from xaisim.similarity.metrics import METRICS


def method_settings(entry: dict[str, Any], metric_entries: list[dict[str, Any]], where: str,
                    image_size: int | None = None, native: Sequence[tuple[int, int]] = ()) -> dict[str, Any]:
    """``{normalise, grid, metrics: {name: [metric, params]}}`` of one method entry; ValueError names the field.
    With ``image_size``, a metric window (SSIM's ``win_size``) larger than a grid known now (a size,
    ``input``, or ``coarsest`` and ``native`` where the models' ``native`` map shapes are known) is refused."""
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
        size = image_size if grid == "input" else grid if isinstance(grid, int) else None
        if grid in ("coarsest", "native") and native:  # the grid the similarity stage will choose
            size = min(grids.common_grid("coarsest", native, 0, []))
        if size is not None and params.get("win_size", 0) > size:
            raise ValueError(f"config metrics[{i}].params.win_size: {params['win_size']} exceeds the {size}x{size} grid "
                             f"of {where} ({name}); lower win_size or set {where}.grid larger")
    return {"normalise": [{name: params} for name, params in steps], "grid": grid, "metrics": metrics}
