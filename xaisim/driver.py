"""The explain driver: one model, the images it explains, a loader, the evaluation budget and the
outcome file, for map methods (:mod:`xaisim.explain`), example-based methods (:mod:`xaisim.examples`)
and the sanity stage's re-explanations (:mod:`xaisim.statistics.sanity`).

``results/explanations/{method}/{model}.safetensors`` holds ``maps`` and ``targets`` (N,) with
metadata ``model``, ``method``, ``method_key``, ``params``, ``target`` and ``image_ids``:

- a map method's maps (N, h, w) as it returns them: raw (signed, un-normalised) at its native grid
  (GradCAM: the layer's; pixel methods: the model's input size), stored as ``dtype``, metadata
  ``grid`` = [h, w]; extra per-image arrays it returns (:class:`~xaisim.explain.Explanation`) beside
  them; maps holding NaN or Inf are stored as they are and counted in ``nonfinite``, all-zero maps
  in ``zero_maps`` (warnings); a CUDA out-of-memory error halves the image and evaluation batches
  and retries (:class:`~xaisim.explain.batching.Budget`); forward-only methods run under AMP when
  ``amp`` is set;
- an example-based method's scores against its R reference images as maps (N, 1, R) float32, raw,
  with ``reference_labels`` (R,), metadata ``reference_ids`` and ``nonfinite`` (non-finite scores,
  a warning), and the arrays and metadata the method returns
  (:class:`~xaisim.examples.Examples`);
- a model the method cannot explain (:class:`~xaisim.contract.Unsupported`, or a method that needs
  gradients on a model without them) gives, under ``on_unsupported: skip`` (default), empty maps
  (0, 1, 1) and metadata ``unsupported: "<reason>"`` (and a warning); under ``fail`` the job fails
  with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm import tqdm

from xaisim.contract import Needs, Unsupported, require
from xaisim.examples import EXAMPLE_METHODS, Examples, ReferencePool
from xaisim.explain import METHODS, Explanation
from xaisim.explain.batching import Budget, auto_evals, concat
from xaisim.registry import Registry
from xaisim.runtime import log_start_cost

log = logging.getLogger(__name__)


def registry(key: str) -> Registry:
    """The registry of the method ``key``: map methods' or example-based methods'."""
    for reg in (METHODS, EXAMPLE_METHODS):
        if key in reg.names():
            return reg
    known = ", ".join(sorted(METHODS.names() + EXAMPLE_METHODS.names()))
    raise KeyError(f"unknown explanation method {key!r}; known: {known}")


def needs(key: str) -> Needs:
    """What the method ``key`` declared it needs."""
    return registry(key).info(key)["needs"]


@dataclass
class Explained:
    """One model (on its device, eval mode), the explained rows of the index, their target classes
    and the model's eval transform."""

    index: pd.DataFrame
    rows: pd.DataFrame
    targets: Tensor
    model: nn.Module
    transform: Callable

    def loader(self, rows: pd.DataFrame, batch_size: int, num_workers: int = 0) -> torch.utils.data.DataLoader:
        from xaisim.data import loader

        return loader(rows, self.transform, batch_size, num_workers=num_workers)

    def images(self, rows: pd.DataFrame, batch_size: int, device: torch.device, num_workers: int = 0) -> Tensor:
        """``rows``' images in one batch on ``device``, loaded ``batch_size`` at a time."""
        return torch.cat([x for x, _ in self.loader(rows, batch_size, num_workers)]).to(device)

    def first(self, images: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """The first ``images`` explained images in one batch on ``device``, and their targets (on the CPU)."""
        rows = self.rows.head(images)
        return self.images(rows, len(rows), device), self.targets[: len(rows)]


def load(
    index_path: str, subset_path: str, predictions_path: str, spec: dict[str, Any], weights: str, *,
    image_size: int, target: str, seed: int, device: torch.device,
) -> Explained:
    """The trained model and the explained subset, each image's target the column ``target``
    (``label`` or ``pred``) of the model's predictions; torch seeded with ``seed`` once the model is built."""
    from xaisim import models
    from xaisim.data import explained_rows
    from xaisim.index import num_classes

    index, rows, targets = explained_rows(index_path, subset_path, predictions_path, target)
    model = models.load_trained(spec, weights, num_classes(index)).to(device).eval()
    transform = models.transform(models.data_config(model, spec, image_size), train=False)
    torch.manual_seed(seed)
    return Explained(index, rows, targets, model, transform)


class MapExplainer:
    """``explainer(model, inputs, targets)`` -> :class:`Explanation` (detached, float32 maps) of a
    registered map method with ``params``: the gradients check, AMP for forward-only methods
    (``amp`` on CUDA) and the :class:`Budget` of ``images`` per call and ``evals`` per forward pass;
    ``evals="auto"`` sizes both to ``memory_mb`` on the first call (:func:`auto_evals`)."""

    def __init__(self, key: str, params: dict[str, Any], *, images: int, evals: int | str, amp: bool = False,
                 memory_mb: float | None = None) -> None:
        self.key, self.params, self.amp, self.memory_mb = key, params, amp, memory_mb
        self.fn, self.needs = METHODS.get(key), METHODS.info(key)["needs"]
        self.images, self.budget = images, None if evals == "auto" else Budget(images, int(evals))

    def __call__(self, model: nn.Module, inputs: Tensor, targets: Tensor) -> Explanation:
        require(self.needs, model, self.key)
        if self.budget is None:
            if self.memory_mb is None:
                raise ValueError("eval_batch_size auto needs explain.memory_mb")
            evals = auto_evals(model, inputs, self.memory_mb)
            self.budget = Budget(min(self.images, evals), evals)
            log.info("memory budget %g MiB: %d evaluation(s) per forward pass", self.memory_mb, evals)
        use_amp = self.amp and inputs.device.type == "cuda" and not self.needs.gradients

        def call(x: Tensor, t: Tensor, evals: int) -> Explanation:
            with torch.autocast(inputs.device.type, enabled=use_amp):
                out = self.fn(model, x, t, *([evals] if self.needs.evals else []), **self.params)
            out = out if isinstance(out, Explanation) else Explanation(out, {})
            return Explanation(out.maps.detach().float(), {k: v.detach() for k, v in out.extras.items()})

        return self.budget.run(call, inputs, targets)


def explain_maps(explainer: MapExplainer, model: nn.Module, loader: torch.utils.data.DataLoader, targets: Tensor,
                 device: torch.device) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Raw maps (N, h, w) float32 of every batch of ``loader`` and extra per-image arrays (N, ...)."""
    parts, start = [], 0
    for x, _ in tqdm(loader, desc=explainer.key, mininterval=5):
        t = targets[start : start + len(x)].to(device)
        start += len(x)
        maps, extras = explainer(model, x.to(device), t)
        if parts and maps.shape[1:] != parts[0].maps.shape[1:]:
            raise RuntimeError(f"{explainer.key}: maps of {tuple(maps.shape[1:])} after {tuple(parts[0].maps.shape[1:])}; the grid must not change")
        parts.append(Explanation(maps.cpu(), {k: v.cpu() for k, v in extras.items()}))
    maps, extras = concat(parts)
    return maps.numpy().astype(np.float32, copy=False), {k: v.numpy() for k, v in extras.items()}


def map_counts(maps: np.ndarray) -> dict[str, int]:
    """Maps holding NaN/Inf (``nonfinite``) and maps that are zero everywhere (``zero_maps``)."""
    flat = maps.reshape(len(maps), -1)
    return {"nonfinite": int((~np.isfinite(flat)).any(1).sum()), "zero_maps": int((flat == 0).all(1).sum())}


def _maps_file(e: Explained, key: str, params: dict[str, Any], device: torch.device, *, batch_size: int,
               num_workers: int, evals: int | str, eval_memory_mb: float | None, amp: bool,
               dtype: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    explainer = MapExplainer(key, params, images=batch_size, evals=evals, amp=amp, memory_mb=eval_memory_mb)
    maps, extras = explain_maps(explainer, e.model, e.loader(e.rows, batch_size, num_workers), e.targets, device)
    counts = map_counts(maps)
    if "undetermined" in extras:  # a regression method's images whose values the samples do not determine
        counts["undetermined"] = int(extras["undetermined"].sum())
        if counts["undetermined"]:
            log.warning("%d of %d maps are minimum-norm fits: more segments than n_samples determine (metadata "
                        "undetermined; raise n_samples)", counts["undetermined"], len(maps))
    if counts["nonfinite"]:
        log.warning("%d of %d maps hold NaN or Inf (stored as they are, metadata nonfinite)", counts["nonfinite"], len(maps))
    if counts["zero_maps"]:
        log.warning("%d of %d maps are zero everywhere (metadata zero_maps)", counts["zero_maps"], len(maps))
    clash = set(extras) & {"maps", "targets"}
    if clash:
        raise ValueError(f"method {key!r} returns extras named {sorted(clash)}, which are reserved")
    return {"maps": maps.astype(dtype), **extras}, {"grid": list(maps.shape[1:]), **counts}


def _examples_file(e: Explained, key: str, params: dict[str, Any], device: torch.device, spec: dict[str, Any],
                   weights: str, where: str, *, batch_size: int, num_workers: int, memory_mb: float, seed: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from xaisim import models

    require(needs(key), e.model, key)
    pool = ReferencePool(
        e.index[e.index["split"] == "train"],
        lambda ref: e.loader(ref, batch_size, num_workers),
        seed=seed,
        memory_mb=memory_mb,
        label_targets=not (models.kind(spec) == "timm" and models.pretrained_head(weights)),
        where=where,
    )
    inputs = e.images(e.rows, batch_size, device, num_workers)
    out: Examples = EXAMPLE_METHODS.get(key)(e.model, inputs, e.targets.to(device), pool, **params)
    scores = out.scores.numpy()
    nonfinite = int((~np.isfinite(scores)).sum())
    if nonfinite:
        log.warning("%d non-finite scores (of %d); they rank last", nonfinite, scores.size)
    arrays = {"maps": scores.astype(np.float32)[:, None, :], "reference_labels": out.reference["label"].to_numpy(np.int64),
              **out.arrays}
    return arrays, {"reference_ids": list(out.reference["image_id"]), "nonfinite": nonfinite, **out.meta}


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
    target: str,
    seed: int,
    device: torch.device,
    out_path: str,
    evals: int | str,
    memory_mb: float,
    eval_memory_mb: float | None = None,
    num_workers: int = 0,
    on_unsupported: Literal["skip", "fail"] = "skip",
    dtype: str = "float32",
    amp: bool = False,
) -> None:
    """Explain the subset with one model and method (map or example-based); write its file.

    The budget: ``evals``, the most model evaluations per forward pass (map methods that declare
    ``Needs(evals=True)``; ``"auto"``: sized to ``eval_memory_mb``, :func:`auto_evals`), ``memory_mb``,
    the buffers of example-based methods, and ``batch_size``
    and ``num_workers`` of the image loaders: performance knobs, never params. ``dtype`` and
    ``amp`` apply to map methods."""
    from xaisim.io import save_arrays

    reg = registry(method)
    params = reg.check_params(method, params, f"method {method_name!r}")
    e = load(index_path, subset_path, predictions_path, spec, weights, image_size=image_size, target=target, seed=seed,
             device=device)
    log_start_cost(f"{method_name} on {model_name}")
    meta = {"model": model_name, "method": method_name, "method_key": method, "params": params, "target": target,
            "image_ids": list(e.rows["image_id"])}
    try:
        if reg is METHODS:
            arrays, more = _maps_file(e, method, params, device, batch_size=batch_size, num_workers=num_workers,
                                      evals=evals, eval_memory_mb=eval_memory_mb, amp=amp, dtype=dtype)
        else:
            arrays, more = _examples_file(e, method, params, device, spec, weights, f"method {method_name!r} (model {model_name!r})",
                                          batch_size=batch_size, num_workers=num_workers, memory_mb=memory_mb, seed=seed)
    except Unsupported as err:
        if on_unsupported == "fail":
            raise RuntimeError(
                f"method {method_name!r} ({method}) does not support model {model_name!r}: {err}; "
                "set explain.on_unsupported: skip to record it and go on"
            ) from err
        log.warning("method %s does not support model %s: %s (recorded, skipped)", method_name, model_name, err)
        save_arrays(out_path, {"maps": np.zeros((0, 1, 1), np.float32), "targets": e.targets.numpy()},
                    {**meta, "unsupported": str(err)})
        return
    except ValueError as err:  # e.g. an unknown layer: name the model, the method and the override
        raise ValueError(
            f"model {model_name!r}, method {method_name!r}: {err} (override per model in its entry: "
            f"methods: {{{method_name}: {{<param>: <value>}}}})"
        ) from err
    save_arrays(out_path, {**arrays, "targets": e.targets.numpy()}, {**meta, **more})
