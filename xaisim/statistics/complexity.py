"""How sparse and how spread out is each map? Sparseness and entropy complexity per model x method.

Sparse and dense maps differ in cosine and SSIM for reasons that are not about the models, so two
models can look alike because their maps are equally blurry. Per map, on its absolute values at the
grid the explain stage wrote (raw, before the similarity stage's normalisation and resize):

- **sparseness**: the Gini index of |a| (Chalasani et al. 2020; Quantus' ``Sparseness``), with the
  d values sorted ascending, G = sum_i (2i - d - 1) a_(i) / (d sum_i a_i): 0 for an all-equal map,
  (d - 1) / d for a one-hot map. Quantus adds 1e-7 to every value; here an all-zero map is NaN;
- **entropy**: the entropy of |a| / sum |a| (Bhatt et al. 2020; Quantus' ``Complexity``), in
  nats (scipy.stats.entropy): 0 for a one-hot map, log d for an all-equal one. It grows with the
  grid (log d), so models whose maps come at different grids (a method at the input size of models
  built for 64 and 32 px) would differ by resolution alone;
- **complexity**: the entropy divided by log d, in [0, 1] (0 one-hot, 1 all-equal): comparable
  across grids, and the measure the per-model means, differences and figures use (NaN for d = 1).

Degenerate maps are NaN with a reason in ``complexity/per_map`` and counted, never averaged in: an
all-zero map, a map with NaN/Inf, every map of a model the method does not support. Model x model
**differences** per method and measure are paired per image: mean over the images where both maps
are defined of |m_a(i) - m_b(i)| (``images`` says over how many); a pair with no such image is NaN.
They are the confound references of the Mantel tests (:mod:`.mantel`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import entropy

from xaisim.io import ArrayFile, write_csv
from xaisim.statistics import STATISTICS, log, undefined

MEASURES = ("sparseness", "complexity")  # compared between models; entropy (nats) is kept per map
CHUNK = 256  # maps read at once


def _magnitudes(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|maps| flattened (N, d) float64 and each map's reason to be left out ("" where usable)."""
    flat = np.abs(np.asarray(maps, dtype=np.float64).reshape(len(maps), -1))
    finite = np.isfinite(flat).all(1)
    zero = finite & ~(flat > 0).any(1)
    return flat, np.where(~finite, "non-finite map", np.where(zero, "all-zero map", ""))


def sparseness(maps: np.ndarray) -> np.ndarray:
    """Gini index of |map| of every map (N, ...) -> (N,); NaN for all-zero and non-finite maps."""
    flat, reason = _magnitudes(maps)
    d = flat.shape[1]
    ranks = 2 * np.arange(1, d + 1) - d - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        gini = np.sort(flat, axis=1) @ ranks / (d * flat.sum(1))
    return np.where(reason == "", gini, np.nan)


def entropy_nats(maps: np.ndarray) -> np.ndarray:
    """Entropy (nats) of |map| / sum |map| of every map (N, ...) -> (N,); NaN for degenerate maps."""
    flat, reason = _magnitudes(maps)
    usable = reason == ""
    out = np.full(len(flat), np.nan)
    if usable.any():
        out[usable] = entropy(flat[usable], axis=1)
    return out


def complexity(maps: np.ndarray) -> np.ndarray:
    """:func:`entropy_nats` / log d of every map (N, ...) -> (N,) in [0, 1]; NaN for degenerate maps and d = 1."""
    d = int(np.prod(np.shape(maps)[1:]))
    return entropy_nats(maps) / np.log(d) if d > 1 else np.full(len(maps), np.nan)


def per_map(path: str) -> tuple[pd.DataFrame, int | None]:
    """method, model, image_id, sparseness, complexity, entropy, reason of every map of one explanation file,
    and the pixels of its grid (None for a model the method does not support)."""
    f = ArrayFile(path)
    ids = list(f.meta["image_ids"])
    head = {"method": f.meta["method"], "model": f.meta["model"], "image_id": ids}
    if f.meta.get("unsupported"):
        reason = f"unsupported: {f.meta['unsupported']}"
        return pd.DataFrame({**head, **dict.fromkeys([*MEASURES, "entropy"], np.nan), "reason": reason}), None
    parts = []
    for start in range(0, len(ids), CHUNK):
        maps = f.read("maps", start, min(start + CHUNK, len(ids)))
        parts.append(pd.DataFrame({"sparseness": sparseness(maps), "complexity": complexity(maps),
                                   "entropy": entropy_nats(maps), "reason": _magnitudes(maps)[1]}))
    values = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(head).join(values), int(np.prod(f.shape("maps")[1:]))


def per_model(maps: pd.DataFrame, pixels: Mapping[tuple[str, str], int]) -> pd.DataFrame:
    """Per method x model: maps, counted (defined maps), zero/non-finite maps, unsupported reason,
    pixels of its grid, mean and std (ddof 1) of each measure over the counted maps."""
    rows = []
    for (method, model), g in maps.groupby(["method", "model"], sort=False):
        counted = g["reason"] == ""
        unsupported = g["reason"].str.startswith("unsupported").all()
        row = {"method": method, "model": model, "maps": len(g), "counted": int(counted.sum()),
               "zero_maps": int((g["reason"] == "all-zero map").sum()),
               "nonfinite_maps": int((g["reason"] == "non-finite map").sum()),
               "unsupported": g["reason"].iloc[0].removeprefix("unsupported: ") if unsupported else "",
               "pixels": pixels.get((method, model), np.nan)}
        for m in MEASURES:
            row[f"{m}_mean"], row[f"{m}_std"] = g.loc[counted, m].mean(), g.loc[counted, m].std()
        if not counted.any():
            undefined(f"complexity of {model}/{method}", row["unsupported"] or "no map is usable (all zero or non-finite)")
        elif row["zero_maps"] or row["nonfinite_maps"]:
            log.warning("%s/%s: %d all-zero and %d non-finite maps of %d left out of the complexity", model, method,
                        row["zero_maps"], row["nonfinite_maps"], len(g))
        rows.append(row)
    return pd.DataFrame(rows)


def differences(maps: pd.DataFrame) -> pd.DataFrame:
    """method, measure, a, b, difference (mean |m_a(i) - m_b(i)| over the images both define), images:
    every pair of the models with a counted map, a before b in file order."""
    rows = []
    for method, g in maps.groupby("method", sort=False):
        usable = g[g["reason"] == ""]
        models = list(dict.fromkeys(usable["model"]))
        for measure in MEASURES:
            wide = usable.pivot(index="image_id", columns="model", values=measure)[models]
            for i, a in enumerate(models):
                for b in models[i + 1:]:
                    both = wide[[a, b]].dropna()
                    diff = float((both[a] - both[b]).abs().mean()) if len(both) else undefined(
                        f"{measure} difference of {a} and {b} ({method})", "no image with both maps defined")
                    rows.append({"method": method, "measure": measure, "a": a, "b": b, "difference": diff,
                                 "images": len(both)})
    return pd.DataFrame(rows, columns=["method", "measure", "a", "b", "difference", "images"])


@STATISTICS.register(
    "complexity",
    reads={"maps": "maps"},
    writes={"complexity": "complexity", "per_map": "complexity/per_map", "differences": "complexity/differences"},
    report={"complexity": "complexity per model and method"},
    enabled="complexity.enabled",
    requires=["map_methods"],
    figures={"complexity": "once"},
    resources={"mem_mb": 2000, "runtime": 10},
)
def complexity_tables(inputs: Mapping[str, Sequence[str]], tables: Mapping[str, str]) -> None:
    """Sparseness and complexity of every map of every map method x model, per model, and their differences."""
    read = [per_map(path) for path in inputs["maps"]]
    maps = pd.concat([frame for frame, _ in read], ignore_index=True)
    pixels = {(frame["method"].iloc[0], frame["model"].iloc[0]): p for frame, p in read if p is not None}
    write_csv(maps, tables["per_map"], index=False, float_format="%.8g")
    write_csv(per_model(maps, pixels), tables["complexity"], index=False, float_format="%.6g")
    write_csv(differences(maps), tables["differences"], index=False, float_format="%.8g")
