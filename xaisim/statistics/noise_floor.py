"""The noise floor: how alike do replicates of one architecture (different training seeds) explain?

A model entry with ``seeds: [0, 1, 2]`` trains replicates ``<name>-s<seed>``; their mean pairwise
distance is the reference for "as alike as the same architecture can be". Reported beside it: the
mean distance of the replicates to every other model, so the ratio says how far the floor lies
below the between-model spread.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from xaisim.statistics import log

COLUMNS = ["replicate_of", "replicates", "pairs", "replicate_distance", "replicate_min", "replicate_max", "other_distance"]


def noise_floor(distance: pd.DataFrame, replicate_of: Mapping[str, str], warn: bool = True) -> pd.DataFrame:
    """Per replicated entry: replicate distance (mean, min, max) and mean distance to other models.

    ``replicate_of`` maps a replicate's model name to its entry's name; other models are absent.
    """
    groups: dict[str, list[str]] = {}
    for model, base in replicate_of.items():
        groups.setdefault(base, []).append(model)
    rows = []
    for base, members in groups.items():
        if len(members) < 2:
            log.warning("noise floor of %s is undefined: it has only one replicate", base)
            continue
        d = distance.loc[members, members].to_numpy(dtype=float)
        pairs = d[np.triu_indices(len(members), 1)]
        others = [m for m in distance.index if m not in members]
        other = distance.loc[members, others].to_numpy(dtype=float).mean() if others else np.nan
        rows.append({"replicate_of": base, "replicates": len(members), "pairs": len(pairs),
                     "replicate_distance": pairs.mean(), "replicate_min": pairs.min(),
                     "replicate_max": pairs.max(), "other_distance": other})
    if not groups and warn:
        log.warning("noise floor is undefined: no model entry has `seeds` (replicates)")
    return pd.DataFrame(rows, columns=COLUMNS)


def noise_floor_table(distances: Mapping[tuple[str, str, str], pd.DataFrame], replicate_of: Mapping[str, str]) -> pd.DataFrame:
    """:func:`noise_floor` of every (method, metric, variant) distance matrix, one table (method, metric,
    variant first); models a method could not explain are left out of its matrix and so of its floor."""
    if not replicate_of:
        log.warning("noise floor is undefined: no model entry has `seeds` (replicates)")
    tables = []
    for (method, metric, variant), d in distances.items():
        table = noise_floor(d, {m: b for m, b in replicate_of.items() if m in d.index}, warn=False)
        tables.append(table.assign(method=method, metric=metric, variant=variant))
    columns = ["method", "metric", "variant", *COLUMNS]
    return pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)
