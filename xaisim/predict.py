"""Predictions of one trained model on the validation split (the explained subset is part of it)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from xaisim.runtime import autocast, log_start_cost


@torch.no_grad()
def predict(model: nn.Module, loader: DataLoader, device: torch.device, amp: bool = False) -> dict[str, torch.Tensor]:
    """Top-2 classes (``index``) and probabilities (``prob``), the ``label`` and the pre-logit
    ``features`` (timm ``forward_head(pre_logits=True)``, float32) of every image of ``loader``; a
    model without a timm body (scikit-learn) has its input pixels as its features."""
    model.to(device).eval()
    probs, idx, labels, features = [], [], [], []
    for x, y in loader:
        x = x.to(device)
        with autocast(device, amp):
            if hasattr(model, "forward_features"):
                body = model.forward_features(x)
                pre = model.forward_head(body, pre_logits=True).float()
                p = model.forward_head(body).float().softmax(1)
            else:
                pre, p = x.float(), model(x).float().softmax(1)
        top = p.topk(min(2, p.shape[1]), dim=1)
        probs.append(top.values.cpu())
        idx.append(top.indices.cpu())
        labels.append(y)
        features.append(pre.flatten(1).cpu())
    return {"prob": torch.cat(probs), "index": torch.cat(idx), "label": torch.cat(labels), "features": torch.cat(features)}


def predictions_table(index: pd.DataFrame, top: dict[str, torch.Tensor]) -> pd.DataFrame:
    """CSV rows: image_id, label, pred, prob, pred2, prob2."""
    return pd.DataFrame(
        {
            "image_id": index["image_id"].to_numpy(),
            "label": index["label"].to_numpy(),
            "pred": top["index"][:, 0].numpy(),
            "prob": top["prob"][:, 0].numpy(),
            "pred2": top["index"][:, -1].numpy(),
            "prob2": top["prob"][:, -1].numpy(),
        }
    )


def predict_model(
    index_path: str, spec: dict[str, Any], weights: str, *, image_size: int, batch_size: int,
    device: torch.device, amp: bool, out_csv: str, out_crop_csv: str | None = None, num_workers: int = 0,
    subset_path: str | None = None, out_features: str | None = None, model_name: str = "",
) -> pd.DataFrame:
    """Predict the val split with a trained model and write the CSV atomically; with ``out_crop_csv``
    also the predictions with timm's eval transform and its centre crop (instead of the squash resize
    used for explanations: the thesis' accuracy check); with ``out_features`` the pre-logit features
    of the explained subset (``subset_path``): tensor ``features`` (N, F) float32, metadata image_ids
    and model."""
    from xaisim import models
    from xaisim.data import loader
    from xaisim.index import num_classes, read_index
    from xaisim.io import save_arrays, write_csv

    index = read_index(index_path)
    val = index[index["split"] == "val"].reset_index(drop=True)
    model = models.load_trained(spec, weights, num_classes(index))
    cfg = models.data_config(model, spec, image_size)
    batches = loader(val, models.transform(cfg, train=False), batch_size, num_workers=num_workers)
    log_start_cost("prediction")
    top = predict(model, batches, device, amp)
    table = predictions_table(val, top)
    if out_crop_csv:
        cropped = loader(val, models.transform(cfg, train=False, crop=True), batch_size, num_workers=num_workers)
        write_csv(predictions_table(val, predict(model, cropped, device, amp)), out_crop_csv, index=False, float_format="%.6g")
    if out_features:
        ids = list(pd.read_csv(subset_path, dtype={"image_id": str})["image_id"])
        rows = pd.Series(range(len(val)), index=val["image_id"]).loc[ids].to_numpy()
        save_arrays(out_features, {"features": top["features"][rows].numpy()}, {"image_ids": ids, "model": model_name})
    write_csv(table, out_csv, index=False, float_format="%.6g")
    return table

