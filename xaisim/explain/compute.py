"""Run one registered method over the explained subset of one model and store its raw maps.

Maps are stored as the method returns them: raw (signed, un-normalised) at the method's native
grid (GradCAM: the layer's; pixel methods: the model's input size), metadata ``grid`` = [h, w].
Normalisation and resizing to a common grid belong to the similarity stage.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from xaisim.explain import METHODS


def explain(
    model: nn.Module,
    loader: DataLoader,
    targets: torch.Tensor,
    method: str,
    params: dict[str, Any],
    device: torch.device,
) -> np.ndarray:
    """Raw maps (N, h, w) float32 at the method's native grid for every image of ``loader``."""
    fn = METHODS.get(method)
    model.to(device).eval()
    out, start = [], 0
    for x, _ in tqdm(loader, desc=method, mininterval=5):
        t = targets[start : start + len(x)].to(device)
        start += len(x)
        maps = fn(model, x.to(device), t, **params).detach().float()
        if out and maps.shape[1:] != out[0].shape[1:]:
            raise RuntimeError(f"{method}: maps of {tuple(maps.shape[1:])} after {tuple(out[0].shape[1:])}; the grid must not change")
        out.append(maps.cpu().numpy())
    return np.concatenate(out).astype(np.float32, copy=False)


def explain_model(
    index_path: str,
    subset_path: str,
    predictions_path: str,
    spec: dict[str, Any],
    weights: str,
    *,
    model_name: str,
    method_name: str,
    method: str,
    params: dict[str, Any],
    image_size: int,
    batch_size: int,
    num_workers: int = 0,
    target: str,
    dtype: str = "float32",
    seed: int,
    device: torch.device,
    out_path: str,
) -> np.ndarray:
    """Explain the subset with one model and method; write maps (stored as ``dtype``), ids, targets, parameters."""
    from xaisim import models
    from xaisim.data import loader, num_classes, read_index
    from xaisim.io import save_arrays

    METHODS.check_params(method, params, f"method {method_name!r}")
    index = read_index(index_path)
    subset = pd.read_csv(subset_path, dtype={"image_id": str})
    rows = index.set_index("image_id").loc[subset["image_id"]].reset_index()
    preds = pd.read_csv(predictions_path, dtype={"image_id": str}).set_index("image_id")
    missing = set(rows["image_id"]) - set(preds.index)
    if missing:
        raise ValueError(f"{predictions_path}: no prediction for {len(missing)} explained images; rerun predict")
    targets = torch.as_tensor(preds.loc[rows["image_id"], target].to_numpy(), dtype=torch.long)
    model = models.load_trained(spec, weights, num_classes(index))
    cfg = models.data_config(model, spec, image_size)
    torch.manual_seed(seed)
    batches = loader(rows, models.transform(cfg, train=False), batch_size, num_workers=num_workers)
    maps = explain(model, batches, targets, method, params, device)
    save_arrays(
        out_path,
        {"maps": maps.astype(dtype), "targets": targets.numpy()},
        {"image_ids": list(rows["image_id"]), "model": model_name, "method": method_name,
         "method_key": method, "params": params, "target": target, "grid": list(maps.shape[1:])},
    )
    return maps
