"""Run one registered method over the explained subset of one model and store its raw maps.

Maps are stored as the method returns them: raw (signed, un-normalised) at the method's native
grid (GradCAM: the layer's; pixel methods: the model's input size), metadata ``grid`` = [h, w].
Normalisation and resizing to a common grid belong to the similarity stage. Beyond plain maps:

- a method that raises :class:`~xaisim.explain.Unsupported` for the model gives, under
  ``explain.on_unsupported: skip`` (default), a file with empty ``maps`` (0, 1, 1), no targets and
  metadata ``unsupported: "<reason>"`` (and a warning); under ``fail`` the job fails with the reason;
- maps holding NaN or Inf are stored as they are and counted in metadata ``nonfinite`` (a warning);
- all-zero maps are counted in metadata ``zero_maps`` (a warning);
- extra per-image arrays a method returns (:class:`~xaisim.explain.Explanation`) are stored beside
  ``maps`` under their names;
- a CUDA out-of-memory error halves the image and evaluation batches and retries
  (:class:`~xaisim.explain.batching.Budget`); forward-only methods run under AMP when ``amp`` is set.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from xaisim.explain import METHODS, Explanation, Unsupported
from xaisim.explain.batching import Budget, concat

log = logging.getLogger(__name__)


def explain(
    model: nn.Module,
    loader: DataLoader,
    targets: torch.Tensor,
    method: str,
    params: dict[str, Any],
    device: torch.device,
    *,
    eval_batch_size: int = 64,
    amp: bool = False,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Raw maps (N, h, w) float32 at the method's native grid and extra per-image arrays (N, ...).

    Raises :class:`~xaisim.explain.Unsupported` if the method cannot explain the model.
    """
    from xaisim.models import supports_gradients

    fn = METHODS.get(method)
    forward = getattr(fn, "forward_only", False)
    if not forward and not supports_gradients(model):
        raise Unsupported(f"{method} needs gradients, which {type(model).__name__} does not have")
    model.to(device).eval()
    use_amp = amp and device.type == "cuda" and forward

    def call(x: torch.Tensor, t: torch.Tensor) -> Explanation:
        with torch.autocast(device.type, enabled=use_amp):
            out = fn(model, x, t, **params)
        out = out if isinstance(out, Explanation) else Explanation(out, {})
        return Explanation(out.maps.detach().float(), {k: v.detach() for k, v in out.extras.items()})

    budget = Budget(loader.batch_size or 1, eval_batch_size)
    parts, start = [], 0
    for x, _ in tqdm(loader, desc=method, mininterval=5):
        t = targets[start : start + len(x)].to(device)
        start += len(x)
        maps, extras = budget.run(call, x.to(device), t)
        if parts and maps.shape[1:] != parts[0].maps.shape[1:]:
            raise RuntimeError(f"{method}: maps of {tuple(maps.shape[1:])} after {tuple(parts[0].maps.shape[1:])}; the grid must not change")
        parts.append(Explanation(maps.cpu(), {k: v.cpu() for k, v in extras.items()}))
    maps, extras = concat(parts)
    return maps.numpy().astype(np.float32, copy=False), {k: v.numpy() for k, v in extras.items()}


def map_counts(maps: np.ndarray) -> dict[str, int]:
    """Maps holding NaN/Inf (``nonfinite``) and maps that are zero everywhere (``zero_maps``)."""
    flat = maps.reshape(len(maps), -1)
    return {"nonfinite": int((~np.isfinite(flat)).any(1).sum()), "zero_maps": int((flat == 0).all(1).sum())}


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
    eval_batch_size: int = 64,
    target: str,
    dtype: str = "float32",
    on_unsupported: Literal["skip", "fail"] = "skip",
    amp: bool = False,
    seed: int,
    device: torch.device,
    out_path: str,
) -> np.ndarray:
    """Explain the subset with one model and method; write maps (stored as ``dtype``), ids, targets,
    extras and parameters."""
    from xaisim import models
    from xaisim.data import explained_rows, loader
    from xaisim.index import num_classes
    from xaisim.io import save_arrays

    METHODS.check_params(method, params, f"method {method_name!r}")
    index, rows, targets = explained_rows(index_path, subset_path, predictions_path, target)
    model = models.load_trained(spec, weights, num_classes(index))
    cfg = models.data_config(model, spec, image_size)
    torch.manual_seed(seed)
    batches = loader(rows, models.transform(cfg, train=False), batch_size, num_workers=num_workers)
    meta = {"model": model_name, "method": method_name, "method_key": method, "params": params, "target": target}
    try:
        maps, extras = explain(model, batches, targets, method, params, device, eval_batch_size=eval_batch_size, amp=amp)
    except Unsupported as err:
        reason = str(err)
        if on_unsupported == "fail":
            raise RuntimeError(
                f"method {method_name!r} ({method}) does not support model {model_name!r}: {reason}; "
                "set explain.on_unsupported: skip to record it and go on"
            ) from err
        log.warning("method %s does not support model %s: %s (recorded, skipped)", method_name, model_name, reason)
        maps = np.zeros((0, 1, 1), np.float32)
        save_arrays(out_path, {"maps": maps, "targets": np.zeros(0, np.int64)},
                    {**meta, "image_ids": [], "unsupported": reason})
        return maps
    except ValueError as err:  # e.g. an unknown layer: name the model, the method and the override
        raise ValueError(
            f"model {model_name!r}, method {method_name!r}: {err} (override per model in its entry: "
            f"methods: {{{method_name}: {{<param>: <value>}}}})"
        ) from err
    counts = map_counts(maps)
    if counts["nonfinite"]:
        log.warning("%d of %d maps hold NaN or Inf (stored as they are, metadata nonfinite)", counts["nonfinite"], len(maps))
    if counts["zero_maps"]:
        log.warning("%d of %d maps are zero everywhere (metadata zero_maps)", counts["zero_maps"], len(maps))
    clash = set(extras) & {"maps", "targets"}
    if clash:
        raise ValueError(f"method {method!r} returns extras named {sorted(clash)}, which are reserved")
    save_arrays(out_path, {"maps": maps.astype(dtype), "targets": targets.numpy(), **extras},
                {**meta, "image_ids": list(rows["image_id"]), "grid": list(maps.shape[1:]), **counts})
    return maps
