"""Example-based explanation: the training images whose loss gradients are most similar to an
explained image's (alibi's GradientSimilarity; Charpiat et al. 2019, Hanawa et al. 2021).

The scores (:mod:`xaisim.examples.similarity`) of each explained image against a seeded, stratified
reference set of the train split, with their rankings (``order``: reference indices by decreasing
score, non-finite scores and saturated reference images last; ``top``/``bottom``: the ``top_k`` most and least similar), the
reference images' targets and predictions, the squared gradient norms and what made the scores
(kernel, parameter subset and count, memory passes, the projection's measured error).

Saturated images (a softmax so confident that the loss gradient underflows even in float64,
:data:`~xaisim.examples.gradients.SATURATED`) have no gradient to compare: an explained one's
scores are stored as 0 (so the similarity stage's zero-map policy leaves it out for this model) and
flagged in ``saturated`` (N,), counted in the metadata ``saturated``; reference ones are counted in
``saturated_references`` (their scores are 0; they rank last). Both are warned about.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Iterable

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from torch import Tensor, nn

from xaisim.contract import Needs
from xaisim.examples import Examples, ReferencePool, register_example_method
from xaisim.examples.similarity import Kernel, gradient_similarity_scores

log = logging.getLogger(__name__)


def reference_subset(rows: pd.DataFrame, n_images: int, seed: int, where: str = "reference_images") -> pd.DataFrame:
    """A seeded subset of ``n_images`` training rows, stratified by label, sorted by image id."""
    from sklearn.model_selection import train_test_split

    if n_images > len(rows):
        raise ValueError(f"{where}: {n_images} is larger than the train split ({len(rows)} images); lower it")
    if n_images == len(rows):
        return rows.sort_values("image_id").reset_index(drop=True)
    n_classes = rows["label"].nunique()
    if n_images < n_classes:
        raise ValueError(f"{where}: {n_images} is below the {n_classes} classes; raise it to stratify")
    chosen, _ = train_test_split(rows, train_size=n_images, stratify=rows["label"], random_state=seed)
    return chosen.sort_values("image_id").reset_index(drop=True)


def validate(params: dict[str, Any]) -> None:
    """``top_k <= reference_images`` (the rankings hold ``top_k`` of the reference images)."""
    if params["top_k"] > params["reference_images"]:
        raise ValueError(f"top_k: {params['top_k']} is larger than reference_images={params['reference_images']}; lower it")


def check_model(params: dict[str, Any], model: dict[str, Any], config: dict[str, Any]) -> tuple[int, int] | None:
    """``reference_images`` within the train split (when its size is known before the data stage:
    digits, imagefolder) and every ``parameters`` prefix a module path of the model's architecture
    (built on the meta device: no memory, no weights). A scikit-learn model is not supported (no
    gradients), so nothing is checked. The scores' grid: (1, reference_images)."""
    if model.get("sklearn"):
        return None
    n_train = _train_size(config["data"])
    if n_train is not None and params["reference_images"] > n_train:
        raise ValueError(
            f"reference_images: {params['reference_images']} is larger than the train split ({n_train} images); lower it"
        )
    if params["parameters"]:
        from xaisim.examples.gradients import select_parameters
        from xaisim.models import build_spec, meta_network

        try:
            select_parameters(meta_network(build_spec(model)), params["parameters"])
        except ValueError as err:
            raise ValueError(f"parameters: {model['name']} ({model['arch']}) has {err}") from None
    return 1, params["reference_images"]


def _train_size(data: dict[str, Any]) -> int | None:
    """Images in the train split, if known before the data stage runs."""
    import math
    from pathlib import Path

    if data["source"] == "digits":
        n = 1797  # scikit-learn's digits; the split is scikit-learn's train_test_split (ceil for test)
        return n - math.ceil(data.get("val_fraction", 0.2) * n)
    if data["source"] == "imagefolder":
        from xaisim.paths import IMAGE_EXTENSIONS

        root = Path(data["path"]) / "train"
        return sum(1 for f in root.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS) if root.is_dir() else None
    return None


def rankings(scores: np.ndarray, top_k: int) -> dict[str, np.ndarray]:
    """Reference indices by decreasing score (N, R), and the ``top_k`` most and least similar."""
    order = np.argsort(-scores, axis=1, kind="stable").astype(np.int32)
    return {"order": order, "top": order[:, :top_k], "bottom": order[:, ::-1][:, :top_k]}


@register_example_method(
    "gradient_similarity", needs=Needs(gradients=True, train_split=True), validate=validate, check_model=check_model
)
def gradient_similarity(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    pool: ReferencePool,
    *,
    kernel: Kernel = "grad_cos",
    reference_images: Annotated[int, Field(ge=2, le=100_000)] = 200,
    top_k: Annotated[int, Field(ge=1)] = 8,
    parameters: list[str] = [],  # noqa: B006  (pydantic copies defaults)
    projection_dim: Annotated[int, Field(ge=0)] = 0,
) -> Examples:
    """Scores of the explained ``inputs`` (loss targets ``targets``) against a seeded, stratified
    set of ``reference_images`` training images, with ``kernel``; ``parameters`` restricts the
    gradients to module prefixes (all parameters if empty), ``projection_dim > 0`` projects them
    (count sketch). ``top_k`` sizes the stored rankings."""
    ref = reference_subset(pool.rows, reference_images, pool.seed, f"{pool.where}.reference_images")

    def batches() -> Iterable[tuple[Tensor, Tensor]]:
        for x, y in pool.loader(ref):
            if not pool.label_targets:
                with torch.no_grad():
                    y = model(x.to(inputs.device)).argmax(1).cpu()
            yield x, y

    result = gradient_similarity_scores(
        model, inputs, targets, batches, len(ref), kernel=kernel, prefixes=parameters,
        projection_dim=projection_dim, seed=pool.seed, memory_mb=pool.memory_mb,
    )
    scores, preds = result.scores.numpy(), result.reference_preds.numpy()
    arrays = {
        **rankings(np.where(np.isfinite(scores) & ~result.reference_saturated.numpy(), scores, -np.inf), top_k),
        "reference_preds": preds,
        "reference_targets": ref["label"].to_numpy(np.int64) if pool.label_targets else preds,
        "explained_sq_norms": result.explained_sq_norms.numpy(),
        "reference_sq_norms": result.reference_sq_norms.numpy(),
        "saturated": result.explained_saturated.numpy(),
    }
    saturated = {"saturated": int(result.explained_saturated.sum()),
                 "saturated_references": int(result.reference_saturated.sum())}
    if saturated["saturated"]:
        log.warning("%d of %d explained images are saturated (no loss gradient in float64): their scores are 0 and "
                    "the similarity stage leaves them out (metadata saturated)", saturated["saturated"], len(scores))
    if saturated["saturated_references"]:
        log.warning("%d of %d reference images are saturated (no loss gradient in float64): every score against them "
                    "is 0 (metadata saturated_references)", saturated["saturated_references"], len(preds))
    meta = {
        "reference_target": "label" if pool.label_targets else "pred",
        "kernel": kernel,
        "parameters": parameters or "all",
        "n_parameters": result.n_parameters,
        "parameter_tensors": len(result.parameters),
        **saturated,
        **result.meta,
    }
    return Examples(result.scores, ref, arrays, meta)
