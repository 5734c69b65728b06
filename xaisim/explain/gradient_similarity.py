"""Example-based explanation: the training images whose loss gradients are most similar to an
explained image's (alibi's GradientSimilarity; Charpiat et al. 2019, Hanawa et al. 2021).

Registered as the method ``gradient_similarity`` so that a ``methods`` entry selects it like any
other, but it needs the train split, so its own rule (``rules/examples.smk``) runs it and the
generic explain rule skips it (attribute ``needs_train_split``). Its "maps" are score vectors over the
reference set, stored as (N, 1, R): the similarity stage compares models by rank metrics on them.
The computation lives in :mod:`xaisim.examples`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable, Iterable

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from torch import Tensor, nn

from xaisim.examples.similarity import Kernel, Result, gradient_similarity_scores
from xaisim.explain import Unsupported, register_method


@dataclass
class ReferencePool:
    """The train split a reference set is drawn from: its rows, a loader factory, the seed and the
    memory budget of the gradient buffers. ``label_targets=False`` (a pretrained head with its own
    classes) takes the model's predicted class as each training image's loss target."""

    rows: pd.DataFrame
    loader: Callable[[pd.DataFrame], Iterable[tuple[Tensor, Tensor]]]
    seed: int
    memory_mb: float = 1024
    label_targets: bool = True
    where: str = "gradient_similarity"  # the config entry, for error messages


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


def validate(params: dict[str, Any], where: str, model: dict[str, Any] | None = None,
             config: dict[str, Any] | None = None) -> None:
    """Rules a parameter's type cannot express, before any compute: ``top_k <= reference_images``;
    with the config, ``reference_images`` within the train split (when its size is known before the
    data stage: digits, imagefolder) and every ``parameters`` prefix a module path of the model's
    architecture (built on the meta device: no memory, no weights)."""
    if params["top_k"] > params["reference_images"]:
        raise ValueError(
            f"{where}.top_k: {params['top_k']} is larger than reference_images={params['reference_images']}; lower it"
        )
    if model is None or config is None:
        return
    if model.get("sklearn"):
        return  # recorded as not supported
    n_train = _train_size(config["data"])
    if n_train is not None and params["reference_images"] > n_train:
        raise ValueError(
            f"{where}.reference_images: {params['reference_images']} is larger than the train split "
            f"({n_train} images); lower it"
        )
    if params["parameters"]:
        import timm

        from xaisim.examples.gradients import select_parameters

        with torch.device("meta"):
            net = timm.create_model(model["arch"], pretrained=False, **(model.get("kwargs") or {}))
        try:
            select_parameters(net, params["parameters"])
        except ValueError as err:
            raise ValueError(f"{where}.parameters: {model['name']} ({model['arch']}) has {err}") from None


def _train_size(data: dict[str, Any]) -> int | None:
    """Images in the train split, if known before the data stage runs."""
    import math
    from pathlib import Path

    if data["source"] == "digits":
        n = 1797  # scikit-learn's digits; the split is scikit-learn's train_test_split (ceil for test)
        return n - math.ceil(data.get("val_fraction", 0.2) * n)
    if data["source"] == "imagefolder":
        from xaisim.index import IMAGE_EXTENSIONS

        root = Path(data["path"]) / "train"
        return sum(1 for f in root.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS) if root.is_dir() else None
    return None


@register_method("gradient_similarity")
def gradient_similarity(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    pool: ReferencePool,
    *,
    kernel: Kernel = "grad_cos",
    reference_images: Annotated[int, Field(ge=2)] = 200,
    top_k: Annotated[int, Field(ge=1)] = 8,
    parameters: list[str] = [],  # noqa: B006  (pydantic copies defaults)
    projection_dim: Annotated[int, Field(ge=0)] = 0,
) -> tuple[Result, pd.DataFrame]:
    """Scores of the explained ``inputs`` (loss targets ``targets``) against a seeded, stratified
    set of ``reference_images`` training images, with ``kernel``; ``parameters`` restricts the
    gradients to module prefixes (all parameters if empty), ``projection_dim > 0`` projects them
    (count sketch). Returns the scores and the reference rows. ``top_k`` sizes the stored rankings."""
    from xaisim.models import supports_gradients

    if not supports_gradients(model):
        raise Unsupported(f"{type(model).__name__} has no parameter gradients (gradient similarity needs them)")
    validate({"top_k": top_k, "reference_images": reference_images}, pool.where)
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
    return result, ref


gradient_similarity.check_config = validate  # type: ignore[attr-defined]
gradient_similarity.needs_train_split = True  # type: ignore[attr-defined]


def rankings(scores: np.ndarray, top_k: int) -> dict[str, np.ndarray]:
    """Reference indices by decreasing score (N, R), and the ``top_k`` most and least similar."""
    order = np.argsort(-scores, axis=1, kind="stable").astype(np.int32)
    return {"order": order, "top": order[:, :top_k], "bottom": order[:, ::-1][:, :top_k]}
