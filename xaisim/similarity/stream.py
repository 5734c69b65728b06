"""The one pass of a method: every model's raw maps, chunk by chunk, prepared and compared by all metrics.

Each chunk of images is read once from every model's explanation file, normalised and resized
(:mod:`~xaisim.similarity.normalise`, :mod:`~xaisim.similarity.grids`) into one (B, M, H, W)
float32 block, and every metric of the method is computed from it (:class:`~xaisim.similarity.metrics.Chunk`
shares the work between metrics).

Degenerate maps, counted per model:

- an all-zero map (after preparation, sum of squares 0; e.g. GradCAM of a layer without gradient) is handled by the
  ``zero_maps`` policy: ``exclude`` (default) leaves every pair involving it out for that image
  (NaN in the per-image values), ``zero`` gives those pairs similarity 0 (the thesis' cosine);
- a map with NaN or Inf is always left out (NaN), whatever the policy;
- a model whose file says ``unsupported`` (the method cannot explain it) is left out of the
  method's matrices and listed with its reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd
import torch

from xaisim.io import ArrayFile
from xaisim.similarity import grids, normalise
from xaisim.similarity.metrics import METRICS, Chunk

log = logging.getLogger(__name__)
ZeroMaps = Literal["exclude", "zero"]


@dataclass
class Pass:
    """Result of one pass: per-image similarities (N, M, M) per metric entry and the map counts."""

    models: list[str]
    image_ids: list[str]
    grid: tuple[int, int]
    sims: dict[str, np.ndarray]
    counts: pd.DataFrame
    native: dict[str, tuple[int, int]] = field(default_factory=dict)


def open_files(paths: Sequence[str], models: Sequence[str]) -> tuple[dict[str, ArrayFile], dict[str, str]]:
    """The supported models' files (config order) and the unsupported ones' reasons; checks alignment."""
    files, unsupported = {}, {}
    for model, path in zip(models, paths):
        f = ArrayFile(path)
        if f.meta.get("unsupported"):
            unsupported[model] = str(f.meta["unsupported"])
        else:
            files[model] = f
    if not files:
        raise ValueError(f"no model supports this method: {unsupported}")
    first = next(iter(files.values()))
    for f in files.values():
        if f.meta["image_ids"] != first.meta["image_ids"]:
            raise ValueError(f"{f.path}: explains other images than {first.path}; rerun explain for both")
    return files, unsupported


def prepare(maps: torch.Tensor, steps: list[normalise.Step], hw: tuple[int, int]) -> torch.Tensor:
    """Raw maps (B, h, w) -> normalised maps at ``hw`` (float32), following ``steps``."""
    before, after = normalise.split(steps)
    maps = normalise.apply(before, maps.float())
    return normalise.apply(after, grids.resize(maps, hw))


def run(
    paths: Sequence[str],
    models: Sequence[str],
    *,
    normalise_steps: Any,
    grid: grids.Grid,
    image_size: int,
    metrics: dict[str, tuple[str, dict[str, Any]]],
    zero_maps: ZeroMaps,
    chunk_size: int,
) -> Pass:
    """Per-image similarities of every supported model pair for every metric entry ``{name: (metric, params)}``."""
    steps = normalise.parse(normalise_steps, "normalise")
    files, unsupported = open_files(paths, models)
    names = list(files)
    native = {m: tuple(f.shape("maps")[1:]) for m, f in files.items()}
    hw = grids.common_grid(grid, list(native.values()), image_size, names)
    ids = next(iter(files.values())).meta["image_ids"]
    n, m = len(ids), len(names)
    sims = {name: np.empty((n, m, m), dtype=np.float64) for name in metrics}
    zero = np.zeros((n, m), dtype=bool)
    nonfinite = np.zeros((n, m), dtype=bool)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        block = torch.empty(stop - start, m, *hw, dtype=torch.float32)
        for j, f in enumerate(files.values()):
            block[:, j] = prepare(torch.from_numpy(f.read("maps", start, stop)), steps, hw)
        chunk = Chunk(block)
        sq_norm = chunk.gram().diagonal(dim1=1, dim2=2)  # shared with the metrics; NaN/Inf propagate
        bad = ~torch.isfinite(sq_norm)
        if bad.any():
            block[bad] = 0
            chunk = Chunk(block)
        nonfinite[start:stop] = bad.numpy()
        zero[start:stop] = (sq_norm == 0).numpy()
        for name, (metric, params) in metrics.items():
            sims[name][start:stop] = METRICS.get(metric)(chunk, **params).numpy()
    _apply_policy(sims, zero, nonfinite, zero_maps)
    counts = pd.DataFrame(
        {
            "model": list(models),
            "images": [n if mod in files else 0 for mod in models],
            "zero_maps": [int(zero[:, names.index(mod)].sum()) if mod in files else 0 for mod in models],
            "nonfinite_maps": [int(nonfinite[:, names.index(mod)].sum()) if mod in files else 0 for mod in models],
            "unsupported": [unsupported.get(mod, "") for mod in models],
        }
    )
    for row in counts.itertuples():
        if row.unsupported:
            log.warning("%s: not supported (%s); left out of the matrices", row.model, row.unsupported)
        if row.zero_maps or row.nonfinite_maps:
            log.warning("%s: %d all-zero and %d non-finite maps of %d (zero_maps: %s)",
                        row.model, row.zero_maps, row.nonfinite_maps, n, zero_maps)
    return Pass(names, list(ids), hw, sims, counts, native)


def _apply_policy(sims: dict[str, np.ndarray], zero: np.ndarray, nonfinite: np.ndarray, policy: ZeroMaps) -> None:
    """Pairs with a zero map: NaN (exclude) or 0 (zero); pairs with a non-finite map: NaN."""
    def pairs(flags: np.ndarray) -> np.ndarray:
        return flags[:, :, None] | flags[:, None, :]

    zero_pairs, bad_pairs = pairs(zero), pairs(nonfinite)
    for values in sims.values():
        values[zero_pairs] = np.nan if policy == "exclude" else 0.0
        values[bad_pairs] = np.nan
