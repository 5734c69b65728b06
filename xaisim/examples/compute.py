"""The gradient-similarity stage: one model, one method entry, the explained subset against a
reference set drawn from the train split; written like any explanation file.

``results/explanations/{method}/{model}.safetensors`` holds ``maps`` (N, 1, R) float32 — the
kernel scores of each explained image against the R reference images, raw — and ``targets`` (N,),
plus ``order`` (N, R) (reference indices by decreasing score), ``top``/``bottom`` (N, top_k),
``reference_labels``/``reference_preds``/``reference_targets`` (R,), the squared gradient norms;
metadata: image and reference ids, the kernel, parameter subset and count, memory passes and the
projection's measured error. Non-finite scores are counted (``nonfinite``) and ranked last.
A model without gradients (scikit-learn) gets the "not supported" file: empty maps (0, 1, 1) and
metadata ``unsupported``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from xaisim.explain import METHODS, Unsupported
from xaisim.explain.gradient_similarity import ReferencePool, rankings

log = logging.getLogger(__name__)


def explain_examples(
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
    memory_mb: float,
    target: str,
    seed: int,
    device: torch.device,
    out_path: str,
) -> dict[str, np.ndarray]:
    """Score the explained subset of one model against the reference set; write the file."""
    from xaisim import models
    from xaisim.data import explained_rows, loader
    from xaisim.index import num_classes
    from xaisim.io import save_arrays

    params = METHODS.check_params(method, params, f"method {method_name!r}")
    index, rows, targets = explained_rows(index_path, subset_path, predictions_path, target)
    meta = {"image_ids": list(rows["image_id"]), "model": model_name, "method": method_name, "method_key": method,
            "params": params, "target": target}
    model = models.load_trained(spec, weights, num_classes(index)).to(device)
    pretrained = models.kind(spec) == "timm" and models.pretrained_head(weights)
    transform = models.transform(models.data_config(model, spec, image_size), train=False)
    pool = ReferencePool(
        index[index["split"] == "train"],
        lambda ref: loader(ref, transform, batch_size),
        seed=seed,
        memory_mb=memory_mb,
        label_targets=not pretrained,
        where=f"method {method_name!r} (model {model_name!r})",
    )
    explained = torch.cat([x for x, _ in loader(rows, transform, batch_size)]).to(device)
    try:
        result, ref = METHODS.get(method)(model, explained, targets.to(device), pool, **params)
    except Unsupported as reason:
        log.warning("%s: not supported for %s: %s", method_name, model_name, reason)
        save_arrays(out_path, {"maps": np.zeros((0, 1, 1), np.float32), "targets": targets.numpy()},
                    {**meta, "unsupported": str(reason)})
        return {}
    scores = result.scores.numpy()
    finite = np.isfinite(scores)
    nonfinite = int((~finite).sum())
    if nonfinite:
        log.warning("%d non-finite scores (of %d); they rank last", nonfinite, scores.size)
    arrays = {
        "maps": scores.astype(np.float32)[:, None, :],
        "targets": targets.numpy(),
        **rankings(np.where(finite, scores, -np.inf), params["top_k"]),
        "reference_labels": ref["label"].to_numpy(np.int64),
        "reference_preds": result.reference_preds.numpy(),
        "reference_targets": (ref["label"].to_numpy(np.int64) if pool.label_targets else result.reference_preds.numpy()),
        "explained_sq_norms": result.explained_sq_norms.numpy(),
        "reference_sq_norms": result.reference_sq_norms.numpy(),
    }
    meta.update(
        reference_ids=list(ref["image_id"]),
        reference_target="label" if pool.label_targets else "pred",
        kernel=params["kernel"],
        parameters=params["parameters"] or "all",
        n_parameters=result.n_parameters,
        parameter_tensors=len(result.parameters),
        nonfinite=nonfinite,
        **result.meta,
    )
    save_arrays(out_path, arrays, meta)
    return arrays
