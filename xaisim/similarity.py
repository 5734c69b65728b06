"""Model-by-model similarity of explanations, image by image, streamed from the map files.

A metric is one registered function ``fn(maps, **params) -> sims``: ``maps`` (M, B, D) holds the
flattened maps of M models for the same B images, ``sims`` (B, M, M) their pairwise similarity per
image. Summaries over images: mean, unbiased std and distance = sqrt((1 - mean)^2 + std^2).
"""

from __future__ import annotations

from typing import Annotated, Any, Sequence

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from torch import Tensor

from xaisim.io import ArrayFile, save_arrays, write_csv
from xaisim.registry import Registry

METRICS: Registry = Registry("similarity metric")
register_metric = METRICS.register


@register_metric("cosine")
def cosine(maps: Tensor) -> Tensor:
    """Cosine similarity of flattened maps; an all-zero map has similarity 0 to every map."""
    norm = maps.norm(dim=2, keepdim=True)
    unit = torch.where(norm > 0, maps / norm.clamp_min(torch.finfo(maps.dtype).tiny), torch.zeros_like(maps))
    return torch.einsum("mbd,nbd->bmn", unit, unit)


@register_metric("rbf")
def rbf(maps: Tensor, *, sigma: Annotated[float, Field(gt=0)] = 80.0) -> Tensor:
    """Gaussian kernel exp(-||a - b||^2 / (2 sigma^2)) of flattened maps."""
    per_image = maps.transpose(0, 1)
    sq = torch.cdist(per_image, per_image).square()
    return torch.exp(-sq / (2 * sigma**2))


def per_image(paths: Sequence[str], metric: str, params: dict[str, Any], chunk_size: int) -> tuple[np.ndarray, list[str]]:
    """(N, M, M) similarities of the models' map files, reading ``chunk_size`` images at a time."""
    fn = METRICS.get(metric)
    files = [ArrayFile(p) for p in paths]
    ids = files[0].meta["image_ids"]
    shape = files[0].shape("maps")
    for f in files[1:]:
        if f.meta["image_ids"] != ids or f.shape("maps") != shape:
            raise ValueError(f"{f.path}: images or map size differ from {files[0].path}; rerun explain for both")
    out = np.empty((shape[0], len(files), len(files)), dtype=np.float64)
    for start in range(0, shape[0], chunk_size):
        stop = min(start + chunk_size, shape[0])
        maps = torch.stack([torch.from_numpy(f.read("maps", start, stop)).flatten(1) for f in files]).double()
        out[start:stop] = fn(maps, **params).numpy()
    return out, ids


def summarise(sims: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, unbiased std and distance over the image axis of (N, M, M) similarities."""
    mean = sims.mean(0)
    std = sims.std(0, ddof=1) if len(sims) > 1 else np.zeros_like(mean)
    return {"mean": mean, "std": std, "distance": np.sqrt((1 - mean) ** 2 + std**2)}


def similarity_matrices(
    paths: Sequence[str], models: Sequence[str], metric: str, params: dict[str, Any], chunk_size: int,
    *, out_per_image: str, out_csv: dict[str, str],
) -> dict[str, pd.DataFrame]:
    """Write per-image similarities and the mean/std/distance CSV matrices for one method x metric."""
    sims, ids = per_image(paths, metric, params, chunk_size)
    save_arrays(out_per_image, {"similarity": sims}, {"image_ids": ids, "models": list(models), "metric": metric, "params": params})
    frames = {k: pd.DataFrame(v, index=list(models), columns=list(models)) for k, v in summarise(sims).items()}
    for key, path in out_csv.items():
        write_csv(frames[key], path, float_format="%.8g")
    return frames
